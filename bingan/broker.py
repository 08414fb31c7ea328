"""The message broker (Celery): embedded filesystem broker by default, Redis for scale-out.

The broker only carries kicks ("look at item 42", "run job 7"); the database holds the truth.
Every embedded broker loses a task when its worker is SIGKILLed, and Redis redelivers only after
the visibility timeout, so the beat tick's sweepers re-kick stuck items and jobs from the
database. Any layer may ``send`` by task name; the worker package binds the tasks.
"""
from __future__ import annotations

import logging
from pathlib import Path

from celery import Celery
from sqlalchemy import event
from sqlalchemy.orm import Session

from bingan.config import Settings, get_settings

log = logging.getLogger(__name__)
AFTER_COMMIT = "bingan.broker.after_commit"  # session.info key: messages waiting for the commit


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
    app = Celery("bingan", broker=url)
    app.conf.update(
        broker_transport_options=transport_options,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        timezone="Asia/Shanghai",
    )
    return app


celery_app = make_celery()


def send(task: str, args: list, countdown: float = 0) -> bool:
    """Send one message; False when the broker cannot be reached (the sweepers will kick it)."""
    try:
        celery_app.send_task(task, args=args, countdown=countdown or None)
    except Exception:
        log.warning("could not send %s %s; the sweeper will", task, args[:10], exc_info=True)
        return False
    return True


def send_after_commit(session: Session, task: str, args: list) -> None:
    """Send once the session's transaction commits; a rollback drops the message with the rows it
    was about (nothing kicks a job or a notice that does not exist)."""
    waiting = session.info.setdefault(AFTER_COMMIT, [])
    if not event.contains(session, "after_commit", _send_waiting):
        event.listen(session, "after_commit", _send_waiting)
        event.listen(session, "after_rollback", _drop_waiting)
    waiting.append((task, args))


def _send_waiting(session: Session) -> None:
    for task, args in session.info.pop(AFTER_COMMIT, []):
        send(task, args)


def _drop_waiting(session: Session) -> None:
    session.info.pop(AFTER_COMMIT, None)
