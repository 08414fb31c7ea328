"""The backup page (/admin/backup) and its API: the system administrator sets the target, the daily
time and the sets kept; a schedule that cannot work comes back with the reason; the page says when
the worker cannot read the passphrase; "立即备份" queues a backup job."""
from __future__ import annotations

from urllib.parse import unquote

import sqlalchemy as sa
from web_helpers import csrf_headers, csrf_of

from bingan.records import backups
from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent
from bingan.storage.models.jobs import Job


def _save(client, data: dict):
    token = csrf_of(client.get("/admin/backup").text)
    return client.post("/admin/backup", data={**data, "csrf_token": token}, follow_redirects=False)


def _error(response) -> str:
    location = unquote(response.headers.get("location", ""))
    return location.split("error=", 1)[1] if "error=" in location else ""


def test_the_administrator_sets_a_daily_backup_and_sees_the_next_run(client_for, web_engine, tmp_path):
    nas = tmp_path / "nas"
    nas.mkdir()
    sysadmin = client_for("sysadmin")
    response = _save(sysadmin, {"enabled": "1", "target": str(nas), "at": "02:30", "keep": "14"})
    assert response.status_code == 303 and not _error(response)
    page = sysadmin.get("/admin/backup").text
    assert f'value="{nas}"' in page and 'value="02:30"' in page and 'value="14"' in page
    assert "下次定时备份：" in page and " 02:30" in page
    with session_factory(web_engine)() as session:
        assert backups.schedule_of(session) == backups.Schedule(True, str(nas), "02:30", 14)
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                              .where(AuditEvent.object_type == "backup_schedule")) == 1


def test_a_schedule_that_cannot_work_comes_back_with_the_reason(client_for, web_engine):
    sysadmin = client_for("sysadmin")
    assert "不存在" in _error(_save(sysadmin, {"enabled": "1", "target": "/mnt/no-such-nas", "at": "02:00",
                                             "keep": "30"}))
    with session_factory(web_engine)() as session:
        assert backups.schedule_of(session) == backups.Schedule()


def test_the_page_says_when_the_passphrase_is_not_set(client_for):
    assert "未设置备份口令" in client_for("sysadmin").get("/admin/backup").text


def test_backup_now_queues_a_job_through_the_api(client_for, web_engine, tmp_path):
    nas = tmp_path / "nas"
    nas.mkdir()
    sysadmin = client_for("sysadmin")
    headers = csrf_headers(sysadmin)
    answer = sysadmin.put("/api/v1/backup/schedule", json={"enabled": False, "target": str(nas), "time": "03:00",
                                                           "keep": 7}, headers=headers)
    assert answer.status_code == 200 and answer.json()["keep"] == 7 and answer.json()["next_run"] is None
    queued = sysadmin.post("/api/v1/backup/run", headers=headers)
    assert queued.status_code == 202 and queued.json()["kind"] == backups.JOB
    with session_factory(web_engine)() as session:
        job = session.get(Job, queued.json()["id"])
        assert job.params == {"target": str(nas), "keep": 7}
    assert str(queued.json()["id"]) in sysadmin.get("/admin/backup").text
