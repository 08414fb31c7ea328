"""Historical imports and the digitisation workload through the app (历史病案批量导入、数字化工作量),
as the test hospital's record room (病案管理员): ``POST /api/v1/imports`` with a manifest → an
import and its job; the job's run shows in the import, its report as JSON and xlsx; a folder under
the import root by JSON; paths outside it refused with nothing created; pause and resume; the
pages under 数字化加工; the workload as JSON and xlsx."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))

from ingest_support import pdf
from web_helpers import csrf_of

from bingan.config import get_settings
from bingan.formats import guard
from bingan.records.jobs import run_job
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.db import session_factory
from bingan.storage.models.imports import ScanImport
from bingan.storage.models.jobs import Job


@pytest.fixture(scope="module", autouse=True)
def _no_pool_children_left():
    yield
    guard.close_shared_pool()


@pytest.fixture
def room(client_for):
    return client_for("archivist")


@pytest.fixture
def number(world) -> str:
    return world.records["normal"].record_number


@pytest.fixture
def root() -> Path:
    path = get_settings().resolved_import_root
    path.mkdir(parents=True, exist_ok=True)
    return path


def token(client) -> dict:
    return {"X-CSRF-Token": client.get("/api/v1/me").json()["csrf_token"]}


def upload(client, text: str):
    return client.post("/api/v1/imports", headers=token(client),
                       files={"manifest": ("清单.csv", text.encode(), "text/csv")})


def run(web_engine, job_id: int) -> None:
    assert run_job(web_engine, open_blob_store(get_settings()), job_id) == "done"


def count(web_engine, model) -> int:
    with session_factory(web_engine)() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_manifest_upload_starts_an_import_and_its_job(room, root, number, web_engine):
    (root / "scan.pdf").write_bytes(pdf([["历史页一"], ["历史页二"]]))
    answer = upload(room, f"文件路径,病案号,住院次数,分类\nscan.pdf,{number},1,C02\nlost.pdf,0999999,1,C02\n")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["state"], body["total"], body["finished"], body["kind"]) == ("running", 2, 0, "csv")
    assert body["job"]["kind"] == "scan.import" and body["job"]["state"] == "queued"
    assert room.get(body["job_url"]).json()["id"] == body["job_id"]
    run(web_engine, body["job_id"])
    done = room.get(f"/api/v1/imports/{body['id']}").json()
    assert (done["state"], done["imported"], done["pages"], done["problems"], done["progress"]) == (
        "done", 1, 2, 1, 100)
    assert [(line["path"], line["state"]) for line in done["report"]] == [("lost.pdf", "problem")]
    assert "0999999" in done["report"][0]["problem"]


def test_the_report_downloads_as_xlsx(room, root, web_engine):
    body = upload(room, "文件路径,病案号,住院次数,分类\nnone.pdf,0999999,1,C02\n").json()
    run(web_engine, body["job_id"])
    answer = room.get(body["report_url"])
    assert answer.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["序号", "文件", "病案号", "住院次数", "分类", "结果", "原因", "页数"]
    assert rows[1][:6] == [1, "none.pdf", "0999999", "1", "C02", "未导入"]


def test_a_folder_under_the_import_root_is_imported_by_json(room, root, number, web_engine):
    folder = root / "1999" / number / "1" / "入院记录"
    folder.mkdir(parents=True)
    (folder / "001.pdf").write_bytes(pdf([["文件夹导入"]]))
    answer = room.post("/api/v1/imports", headers=token(room), json={"folder": "1999"})
    assert answer.status_code == 202, answer.text
    run(web_engine, answer.json()["job_id"])
    assert room.get(f"/api/v1/imports/{answer.json()['id']}").json()["pages"] == 1


@pytest.mark.parametrize("body", [{"folder": "../.."}, {"folder": "/etc"}, {"manifest_path": "../secret.csv"}])
def test_paths_outside_the_import_root_are_refused_and_nothing_is_created(room, root, web_engine, body):
    answer = room.post("/api/v1/imports", headers=token(room), json=body)
    assert answer.status_code == 400 and "导入根目录" in answer.json()["detail"]
    assert count(web_engine, ScanImport) == 0 and count(web_engine, Job) == 0


def test_a_manifest_without_its_columns_is_refused_in_chinese(room, web_engine):
    answer = upload(room, "file,record\na.pdf,1\n")
    assert answer.status_code == 400 and "清单缺少列" in answer.json()["detail"]
    assert count(web_engine, ScanImport) == 0


def test_pause_then_resume_starts_a_new_job_from_the_first_file_not_done(room, root, number, web_engine):
    body = upload(room, f"文件路径,病案号,住院次数,分类\nx.pdf,{number},1,C02\n").json()
    paused = room.post(f"/api/v1/imports/{body['id']}/pause", headers=token(room))
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    run(web_engine, body["job_id"])  # the job sees the pause and stops
    assert room.get(f"/api/v1/imports/{body['id']}").json()["finished"] == 0
    resumed = room.post(f"/api/v1/imports/{body['id']}/resume", headers=token(room)).json()
    assert resumed["state"] == "running" and resumed["job_id"] != body["job_id"]
    again = room.post(f"/api/v1/imports/{body['id']}/resume", headers=token(room))
    assert again.status_code == 409


def test_the_import_pages_list_start_and_show_an_import(room, root, number):
    page = room.get("/digitisation/imports")
    assert page.status_code == 200 and "历史病案导入" in page.text and str(root) in page.text
    (root / "p.pdf").write_bytes(pdf([["页面导入"]]))
    started = room.post("/digitisation/imports", data={"csrf_token": csrf_of(page.text), "folder": ""},
                        files={"manifest": ("m.csv", f"文件路径,病案号,住院次数,分类\np.pdf,{number},1,C02\n".encode(),
                                            "text/csv")}, follow_redirects=False)
    assert started.status_code == 303
    shown = room.get(started.headers["location"])
    assert shown.status_code == 200 and "导入中" in shown.text and 'id="import-pause"' in shown.text
    assert "m.csv" in room.get("/digitisation/imports").text


def test_a_refused_start_on_the_page_goes_back_with_the_reason(room):
    page = room.get("/digitisation/imports")
    answer = room.post("/digitisation/imports", data={"csrf_token": csrf_of(page.text), "folder": "../.."},
                       follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/digitisation/imports?error=")


def test_the_workload_answers_as_json_and_xlsx(room):
    answer = room.get("/api/v1/digitisation/workload", params={"month": "2026-03"})
    assert answer.status_code == 200
    assert answer.json() == {"month": "2026-03", "days": [], "people": [],
                             "totals": {"captured": 0, "reviewed": 0, "archived": 0}}
    sheet = room.get("/api/v1/digitisation/workload.xlsx", params={"month": "2026-03"})
    assert sheet.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
    assert list(rows[0]) == ["日期", "人员", "拍摄页数", "审核页数", "归档病案数"]
    assert room.get("/digitisation/workload?month=2026-03").status_code == 200


def test_a_workload_month_not_yyyy_mm_is_refused(room):
    assert room.get("/api/v1/digitisation/workload", params={"month": "March"}).status_code == 422


def test_a_clinician_may_neither_import_nor_see_the_workload(client_for):
    clinician = client_for("clinician")
    assert upload(clinician, "文件路径,病案号,住院次数,分类\n").status_code == 403
    assert clinician.get("/api/v1/digitisation/workload", params={"month": "2026-03"}).status_code == 403
