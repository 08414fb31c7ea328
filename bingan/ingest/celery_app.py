"""The Celery application: embedded filesystem broker by default, Redis for scale-out; same tasks.

The broker only carries kicks ("look at item 42"); the database holds the truth. Every
embedded broker loses a task when its worker is SIGKILLed, and Redis redelivers only after
the visibility timeout, so the beat tick's sweeper re-kicks stuck items from the database.
"""
from __future__ import annotations

from pathlib import Path

from celery import Celery

from bingan.config import Settings, get_settings
from bingan.ingest.options import get_options


def broker_options(settings: Settings) -> tuple[str, dict]:
    url = settings.resolved_broker_url
    if url.startswith("filesystem://"):
        root = settings.resolved_home / "broker"
        folders = {name: root / name for name in ("out", "processed", "control")}
        for folder in folders.values():
            Path(folder).mkdir(parents=True, exist_ok=True)
        return url, {
            "data_folder_in": str(folders["out"]), "data_folder_out": str(folders["out"]),
            "processed_folder": str(folders["processed"]), "store_processed": False,
            "control_folder": str(folders["control"]),  # kombu's default is ./control in the cwd
            "polling_interval": 0.2,
        }
    # Short visibility timeout: a task whose worker died is redelivered within a minute.
    return url, {"visibility_timeout": 60, "unacked_restore_throttle": 1}


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    url, transport_options = broker_options(settings)
    app = Celery("bingan", broker=url, include=["bingan.ingest.tasks"])
    app.conf.update(
        broker_transport_options=transport_options,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        beat_schedule={"bingan-tick": {"task": "bingan.ingest.tick", "schedule": get_options().sweep_seconds}},
        timezone="Asia/Shanghai",
    )
    return app


celery_app = make_celery()
