"""bingan-agent: the stand-alone collector for device PCs (单机采集) — watches a folder, queues each
new report in its own SQLite, signs and uploads it through Bingan's push API."""

__version__ = "0.1.0"
