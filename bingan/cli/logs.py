"""Where `bingan serve` logs go: files under HOME/logs; the console shows only what the operator needs.

Framework banners, access lines and warnings go to HOME/logs/web.log; errors still reach the
console (a port already in use must not fail silently).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bingan.config import Settings


def log_config(settings: Settings) -> dict:
    """A logging.config dictionary for uvicorn.run (it applies it before the server starts)."""
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "file": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "console": {"format": "%(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "file": {"class": "logging.FileHandler", "filename": str(settings.log_dir / "web.log"),
                     "formatter": "file", "encoding": "utf-8"},
            "console": {"class": "logging.StreamHandler", "formatter": "console", "level": "ERROR"},
        },
        "root": {"handlers": ["file", "console"], "level": level},
        "loggers": {
            name: {"handlers": ["file", "console"], "level": level, "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "py.warnings")
        },
    }


def capture_warnings() -> None:
    """Library warnings (deprecations and the like) into the log file, not the operator's terminal."""
    logging.captureWarnings(True)
