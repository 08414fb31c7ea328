"""Exports through the app: `POST /api/v1/exports` (202 with the job and its link) followed at
`GET /api/v1/jobs/{id}` to the zip; the record page's 导出 form and the export's progress page;
sealed records and roles without the export permission refused with the reason; bad input
refused in Chinese."""
from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import pytest
from web_helpers import csrf_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "release"))

from release_support import run_queued_jobs

from bingan import broker
from bingan.records.workflows import install


@pytest.fixture(autouse=True)
def quiet_broker(monkeypatch) -> None:
    install()
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())


def _post(client, url: str, **body):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.post(url, json=body, headers={"X-CSRF-Token": token})


def test_medical_affairs_exports_records_and_downloads_the_zip(client_for, web_engine, world):
    affairs = client_for("medical_affairs")
    record_ids = [world.records["normal"].id, world.records["other_department"].id]
    started = _post(affairs, "/api/v1/exports", record_ids=record_ids, formats=["pdf", "ofd"],
                    watermark="仅供法院审理使用")
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["state"] == "queued" and body["records"] == 2 and body["documents"] == 2
    assert started.headers["location"] == body["job_url"] == f"/api/v1/jobs/{body['job_id']}"
    assert run_queued_jobs(web_engine) == ["done"]
    job = affairs.get(body["job_url"]).json()
    assert (job["state"], job["progress"]) == ("done", 100) and job["result_name"].endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(affairs.get(job["result_url"]).content))
    manifest = json.loads(archive.read("manifest.json"))
    assert len(manifest["files"]) == 4 and manifest["watermark"] == "仅供法院审理使用"


def test_the_job_is_its_owner_s_alone(client_for, world):
    started = _post(client_for("medical_affairs"), "/api/v1/exports", record_ids=[world.records["normal"].id])
    assert client_for("archivist").get(started.json()["job_url"]).status_code == 404


def test_a_sealed_record_is_refused_with_the_reason(client_for, world):
    response = _post(client_for("archivist"), "/api/v1/exports", record_ids=[world.records["sealed"].id])
    assert response.status_code == 403 and "封存" in response.json()["detail"]


def test_a_role_without_the_export_permission_is_refused(client_for, world):
    response = _post(client_for("clinician"), "/api/v1/exports", record_ids=[world.records["normal"].id])
    assert response.status_code == 403


def test_bad_input_is_refused_in_chinese(client_for, world):
    response = _post(client_for("archivist"), "/api/v1/exports", record_ids=[world.records["normal"].id],
                     formats=["docx"])
    assert response.status_code == 400 and "导出格式应为" in response.json()["detail"]


def test_the_record_page_exports_and_shows_the_progress(client_for, web_engine, world):
    archivist = client_for("archivist")
    record_id = world.records["normal"].id
    page = archivist.get(f"/records/{record_id}").text
    assert 'id="export-form"' in page
    answer = archivist.post(f"/records/{record_id}/export", follow_redirects=False,
                            data={"csrf_token": csrf_of(page), "formats": ["pdf"], "watermark": "仅供患者本人使用"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/exports/")
    progress = archivist.get(answer.headers["location"]).text
    assert "仅供患者本人使用" in progress and 'hx-trigger="every 1s"' in progress
    assert run_queued_jobs(web_engine) == ["done"]
    assert "下载 病案导出-" in archivist.get(answer.headers["location"]).text


def test_a_refused_export_goes_back_to_the_record_page_with_the_reason(client_for, world):
    archivist = client_for("archivist")
    record_id = world.records["normal"].id
    page = archivist.get(f"/records/{record_id}").text
    answer = archivist.post(f"/records/{record_id}/export", data={"csrf_token": csrf_of(page)})
    assert answer.status_code == 200 and "导出格式应为 pdf、ofd" in answer.text


def test_roles_without_the_permission_see_no_export_form(client_for, world):
    assert 'id="export-form"' not in client_for("clinician").get(f"/records/{world.records['normal'].id}").text
