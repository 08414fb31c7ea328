"""Background jobs on the web: the progress JSON (a contract: GET /api/v1/jobs/{id}), the
self-refreshing fragment, and the result file — for the job's owner only, audited."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bingan.access.audit import Actor
from bingan.config import get_settings
from bingan.records import jobs
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent


def _list(ctx: jobs.JobContext) -> None:
    ctx.progress(1, 2)
    ctx.progress(2, 2)
    ctx.store_result("甲\n乙".encode(), "清单.txt", "text/plain")


@pytest.fixture(autouse=True)
def kind() -> Iterator[None]:
    jobs.register(jobs.JobKind("list", "生成清单", _list))
    yield
    jobs.unregister("list")


@pytest.fixture
def job_id(app, web_engine, world) -> int:
    owner = world.users["archivist"]
    with session_factory(web_engine).begin() as session:
        job = jobs.start(session, Actor.of(owner), "list", {}, owner=owner, record_id=world.records["normal"].id)
        session.flush()
        return job.id


def test_the_owner_follows_a_job_from_queued_to_its_result(web_engine, client_for, job_id):
    archivist = client_for("archivist")
    queued = archivist.get(f"/api/v1/jobs/{job_id}").json()
    assert (queued["state"], queued["progress"], queued["result_url"]) == ("queued", 0, None)
    assert 'hx-trigger="every 1s"' in archivist.get(f"/jobs/{job_id}").text

    assert jobs.run_job(web_engine, open_blob_store(get_settings()), job_id) == "done"
    done = archivist.get(f"/api/v1/jobs/{job_id}").json()
    assert (done["state"], done["progress"], done["state_name"]) == ("done", 100, "已完成")
    fragment = archivist.get(f"/jobs/{job_id}").text
    assert "hx-trigger" not in fragment and "下载 清单.txt" in fragment
    result = archivist.get(done["result_url"])
    assert result.status_code == 200 and result.content.decode() == "甲\n乙"
    assert "attachment" in result.headers["content-disposition"]
    with session_factory(web_engine)() as session:
        assert session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action == "job.result_download")).all()


def test_another_user_cannot_see_that_a_job_exists(client_for, job_id):
    clinician = client_for("clinician")
    assert clinician.get(f"/api/v1/jobs/{job_id}").status_code == 404
    assert clinician.get(f"/jobs/{job_id}").status_code == 404
    assert clinician.get(f"/jobs/{job_id}/result").status_code == 404


def test_an_unfinished_job_has_no_result_yet(client_for, job_id):
    response = client_for("archivist").get(f"/jobs/{job_id}/result")
    assert response.status_code == 404 and "尚未完成" in response.text
