"""Background jobs (bingan/records/jobs.py): queued in the caller's transaction, kicked after commit,
run once by whoever claims them, progress checkpoints, a result file in the blob store, failures
with a Chinese reason, and a sweeper for what a lost message or a dead worker left."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "access"))

from world import World, build_world

from bingan import broker
from bingan.access.audit import Actor
from bingan.config import get_settings
from bingan.errors import NotFound, Refusal
from bingan.records import jobs
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import AuditEvent, utcnow
from bingan.storage.models.jobs import Job


def _count_pages(ctx: jobs.JobContext) -> None:
    total = ctx.params["pages"]
    for done in range(1, total + 1):
        ctx.progress(done, total, f"第 {done} 页")
    ctx.store_result("\n".join(f"第{n}页" for n in range(1, total + 1)).encode(), "清单.txt", "text/plain")


def _refuse(_ctx: jobs.JobContext) -> None:
    raise Refusal("病案已封存，不能导出")


def _crash(ctx: jobs.JobContext) -> None:
    ctx.job.note = "half done"
    raise RuntimeError("disk gone")


KINDS = (jobs.JobKind("count", "数页", _count_pages, permission="seal.manage"),
         jobs.JobKind("refuse", "拒绝", _refuse), jobs.JobKind("crash", "崩溃", _crash))


@pytest.fixture(autouse=True)
def kinds() -> Iterator[None]:
    for kind in KINDS:
        jobs.register(kind)
    yield
    for kind in KINDS:
        jobs.unregister(kind.code)


@pytest.fixture
def world(session) -> World:
    built = build_world(session, with_documents=False)
    session.commit()
    return built


@pytest.fixture
def broker_folder(monkeypatch) -> Path:
    """A real filesystem broker in this test's home: messages are files we can count."""
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())
    return get_settings().resolved_home / "broker" / "out"


def _start(session, world: World, kind: str = "count", **params) -> Job:
    owner = world.users["medical_affairs"]
    job = jobs.start(session, Actor.of(owner), kind, params or {"pages": 3}, owner=owner,
                     record_id=world.records["normal"].id)
    session.commit()
    return job


def test_a_job_is_kicked_only_when_its_transaction_commits(session, world, broker_folder):
    owner = world.users["medical_affairs"]
    jobs.start(session, Actor.of(owner), "count", {"pages": 1}, owner=owner)
    session.rollback()
    assert list(broker_folder.iterdir()) == []
    _start(session, world)
    assert len(list(broker_folder.iterdir())) == 1


def test_a_job_runs_with_progress_and_keeps_its_result_encrypted(session, engine, world, broker_folder):
    job = _start(session, world)
    store = open_blob_store(get_settings())
    assert jobs.run_job(engine, store, job.id) == "done"
    session.expire_all()
    view = jobs.job_view(session.get(Job, job.id))
    assert (view["state"], view["progress"], view["done"], view["total"]) == ("done", 100, 3, 3)
    assert view["result_url"] == f"/jobs/{job.id}/result" and view["result_name"] == "清单.txt"
    with store.open(session.get(Job, job.id).result_sha256) as stream:
        assert stream.read().decode() == "第1页\n第2页\n第3页"
    started = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "job.start")).one()
    assert started.record_id == world.records["normal"].id


def test_a_job_is_run_once_even_when_kicked_twice(session, engine, world, broker_folder):
    job = _start(session, world)
    store = open_blob_store(get_settings())
    assert jobs.run_job(engine, store, job.id) == "done"
    assert jobs.run_job(engine, store, job.id) == "not claimed"


def test_a_refused_job_fails_with_the_reason_and_keeps_nothing_it_wrote(session, engine, world, broker_folder):
    refused = _start(session, world, "refuse")
    crashed = _start(session, world, "crash")
    store = open_blob_store(get_settings())
    assert jobs.run_job(engine, store, refused.id) == "failed"
    assert jobs.run_job(engine, store, crashed.id) == "failed"
    session.expire_all()
    assert session.get(Job, refused.id).error == "病案已封存，不能导出"
    assert session.get(Job, crashed.id).error == "任务出错：RuntimeError"
    assert session.get(Job, crashed.id).note == ""


def test_the_sweeper_kicks_a_job_whose_worker_died_and_gives_up_after_three_attempts(session, engine, world,
                                                                                        broker_folder):
    job = _start(session, world)
    past = utcnow() - timedelta(minutes=1)
    session.execute(sa.update(Job).where(Job.id == job.id).values(state="running", attempts=1, locked_until=past))
    session.commit()
    before = len(list(broker_folder.iterdir()))
    assert jobs.sweep_jobs(session, utcnow()) == 1
    assert len(list(broker_folder.iterdir())) == before + 1
    assert jobs.run_job(engine, open_blob_store(get_settings()), job.id) == "done"

    tired = _start(session, world)
    session.execute(sa.update(Job).where(Job.id == tired.id).values(state="running", attempts=3, locked_until=past))
    session.commit()
    assert jobs.sweep_jobs(session, utcnow()) == 0
    assert session.get(Job, tired.id).state == "failed"


def test_a_queued_job_nobody_took_is_kicked_again(session, world, broker_folder):
    job = _start(session, world)
    assert jobs.sweep_jobs(session, utcnow()) == 0  # just queued: its own kick is on the way
    assert jobs.sweep_jobs(session, utcnow() + jobs.KICK_AGAIN_AFTER * 2) == 1
    assert session.get(Job, job.id).state == "queued"


def test_a_job_is_visible_to_its_owner_and_its_kinds_managers_only(session, world, broker_folder):
    job = _start(session, world)
    owner, clinician = world.users["medical_affairs"], world.users["clinician"]
    assert jobs.visible_job(session, owner, frozenset(), job.id) is job
    assert jobs.visible_job(session, clinician, frozenset({"seal.manage"}), job.id) is job
    with pytest.raises(NotFound):
        jobs.visible_job(session, clinician, frozenset({"record.view"}), job.id)
    with pytest.raises(NotFound):
        jobs.visible_job(session, owner, frozenset(), 999999)


def test_an_unknown_kind_is_refused(session, world):
    owner = world.users["medical_affairs"]
    with pytest.raises(Refusal, match="尚未启用"):
        jobs.start(session, Actor.of(owner), "nothing", {}, owner=owner)
