"""Collection monitoring pages and API (采集监控) and the record room's big screen (大屏)."""
