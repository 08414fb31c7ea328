"""The beat tick's timed jobs (bingan/worker/timed.py): each in its own transaction, so one that
fails neither stops nor undoes the others."""
from __future__ import annotations

import sqlalchemy as sa

from bingan.storage.models import SystemSetting
from bingan.worker import timed


def _write(name: str):
    def job(session, _now) -> int:
        session.add(SystemSetting(key=name, value={"ran": True}))
        return 1
    return job


def _fail(session, _now) -> int:
    session.add(SystemSetting(key="half-written", value={}))
    raise RuntimeError("broken job")


def test_a_failing_timed_job_neither_stops_nor_undoes_the_others(engine, monkeypatch):
    monkeypatch.setattr(timed, "TIMED_JOBS", {"first": _write("first"), "broken": _fail, "last": _write("last")})
    assert timed.run_timed_jobs(engine) == {"first": 1, "broken": "failed", "last": 1}
    with engine.connect() as connection:
        keys = set(connection.scalars(sa.select(SystemSetting.key)))
    assert {"first", "last"} <= keys and "half-written" not in keys


def test_every_domains_timed_job_runs_on_an_empty_hospital(engine):
    results = timed.run_timed_jobs(engine)
    assert set(results) == set(timed.TIMED_JOBS) and "failed" not in results.values()
