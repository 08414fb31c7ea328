"""终末质控 through the app as the QC office (u_qc): the standard's pages, xlsx import with a preview
(a bad file refused, nothing saved), a sampling task created from the form, a record scored on the
scoring screen (a proposal accepted, a manual deduction on a document page), submitted, found in
the final-QC list and exported; the same through the JSON API."""
from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import xlsxwriter
from openpyxl import load_workbook
from web_helpers import csrf_of

from bingan.storage.db import session_factory
from bingan.storage.models import Document, Record
from bingan.storage.models.completeness import CheckFinding, CheckRun
from bingan.storage.models.scoring import FinalScore, ScoringStandard


@pytest.fixture
def november(web_engine, world) -> dict:
    """The world's cardiology record discharged in November 2026 with a failed front-page self-check."""
    with session_factory(web_engine)() as session, session.begin():
        record = session.get(Record, world.records["normal"].id)
        record.discharged_at = datetime(2026, 11, 12, 2, 0, tzinfo=UTC)
        record.admitted_at = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
        record.inpatient_number = "ZY0001"
        document = session.scalars(sa.select(Document).where(Document.record_id == record.id)).first()
        run = CheckRun(record_id=record.id, trigger="submit", passed=False, errors=1)
        run.findings = [CheckFinding(seq=0, check="front_page", severity="error", message="病案首页缺少联系人（A12）",
                                     document_id=document.id)]
        session.add(run)
        return {"record": record.id, "document": document.id}


def _token(client, path="/scoring/tasks") -> str:
    return csrf_of(client.get(path).text)


def _xlsx(rows: list[list], grades: list[list] | None = None) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out)
    sheet = book.add_worksheet("标准")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    if grades:
        extra = book.add_worksheet("等级")
        for r, row in enumerate(grades):
            for c, value in enumerate(row):
                extra.write(r, c, value)
    book.close()
    return out.getvalue()


HEADER = ["项目", "项目分值", "评分内容", "每处扣分", "最多次数", "单项否决"]


def test_a_task_is_drawn_scored_submitted_and_listed_with_its_grade(client_for, november, web_engine, world):
    qc = client_for("qc")
    token = _token(qc)
    created = qc.post("/scoring/tasks", data={"name": "11月抽查", "month": "2026-11", "count": "5", "seed": "11",
                                               "reviewer_ids": str(world.users["qc"].id), "csrf_token": token},
                      follow_redirects=False)
    assert created.status_code == 303, created.text
    task_path = created.headers["location"]
    assert "0000001" in qc.get(task_path).text
    screen = f"{task_path}/records/{november['record']}"
    assert "开始评分" in qc.get(screen).text
    qc.post(f"{screen}/open", data={"csrf_token": token})
    page = qc.get(screen).text
    assert "病案首页缺少联系人（A12）" in page and "待确认" in page
    proposal = re.search(r'data-deduction-id="(\d+)" data-source="check"', page).group(1)
    refused = qc.post(f"{screen}/submit", data={"csrf_token": token})
    assert refused.status_code == 400 and "未确认" in refused.text
    qc.post(f"{screen}/deductions/{proposal}", data={"action": "accept", "csrf_token": token})
    qc.post(f"{screen}/deductions", data={"item_code": "1.2", "document_id": november["document"], "page": "2",
                                          "times": "1", "note": "主要诊断选择错误", "csrf_token": token})
    page = qc.get(screen).text
    assert re.search(r'id="scoring-total">96.5<', page)
    done = qc.post(f"{screen}/submit", data={"csrf_token": token, "note": "整体较好"}, follow_redirects=False)
    assert done.status_code == 303
    with session_factory(web_engine)() as session:
        score = session.scalars(sa.select(FinalScore)).one()
        assert (score.status, score.total, score.grade) == ("final", 96.5, "甲")
    listed = qc.get("/scoring/finals?grade=甲&inpatient_number=ZY0001").text
    assert 'id="scoring-finals-count">1<' in listed and "11月抽查" in listed
    assert 'id="scoring-finals-count">0<' in qc.get("/scoring/finals?grade=乙").text
    assert 'id="scoring-finals-count">0<' in qc.get("/scoring/finals?stay_from=10").text
    exported = qc.get("/scoring/finals.xlsx?grade=甲")
    rows = list(load_workbook(io.BytesIO(exported.content), read_only=True).active.iter_rows(values_only=True))
    assert rows[0][0] == "病案号" and rows[1][0] == "0000001" and rows[1][8] == 96.5 and rows[1][9] == "甲"


def test_the_standard_pages_show_the_shipped_table_and_edit_thresholds_as_a_new_version(client_for, web_engine):
    qc = client_for("qc")
    listing = qc.get("/scoring/standards").text
    assert "住院病历质量评分标准（默认）" in listing and "当前使用" in listing
    with session_factory(web_engine)() as session:
        standard_id = session.scalar(sa.select(ScoringStandard.id))
    page = qc.get(f"/scoring/standards/{standard_id}").text
    assert "入院记录未在患者入院后24小时内完成" in page and "合计 100.0 分" in page
    saved = qc.post(f"/scoring/standards/{standard_id}/thresholds",
                    data={"first": "85", "second": "75", "csrf_token": csrf_of(page)}, follow_redirects=False)
    assert saved.status_code == 303
    assert "第2版" in qc.get(saved.headers["location"]).text
    download = qc.get(f"/scoring/standards/{standard_id}/xlsx")
    rows = list(load_workbook(io.BytesIO(download.content), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert rows[0][:4] == ("项目", "项目分值", "评分内容", "每处扣分") and len(rows) == 66


def test_an_imported_table_is_previewed_before_it_is_saved(client_for, web_engine):
    qc = client_for("qc")
    token = _token(qc, "/scoring/standards/import")
    data = _xlsx([HEADER, ["病案首页", 40, "首页缺项", 1, None, None], [None, None, "主要诊断错误", 5, 1, None],
                  ["病程记录", 60, "病程缺失", 10, None, None], [None, None, "伪造病历", 0, None, "丙级"]],
                 [["甲", 92], ["乙", 78]])
    preview = qc.post("/scoring/standards/import/preview", data={"name": "本院标准", "csrf_token": token},
                      files={"file": ("std.xlsx", data)})
    assert preview.status_code == 200 and "预览：本院标准（2个项目，4条评分内容，合计100.0分）" in preview.text
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ScoringStandard).where(
            ScoringStandard.name == "本院标准")) == 0  # nothing saved by the preview
    payload = re.search(r'name="payload" value="([^"]+)"', preview.text).group(1).replace("&#34;", '"')
    saved = qc.post("/scoring/standards/import", data={"name": "本院标准", "payload": payload, "csrf_token": token},
                    follow_redirects=False)
    assert saved.status_code == 303
    with session_factory(web_engine)() as session:
        row = session.scalars(sa.select(ScoringStandard).where(ScoringStandard.name == "本院标准")).one()
        assert row.current and row.thresholds == {"甲": 92, "乙": 78} and row.sections[1]["items"][1]["veto"] == "grade"


@pytest.mark.parametrize(("content", "why"), [
    (b"not a spreadsheet", "无法读取文件"),
    (_xlsx([["名称", "分数"], ["首页", 10]]), "缺少：项目、项目分值、评分内容、每处扣分"),
    (_xlsx([HEADER, ["首页", "十分", "缺项", 1, None, None]]), "应为数字"),
    (_xlsx([HEADER, ["首页", 10, "缺项", 1, None, "也许"]]), "单项否决应为空"),
    (_xlsx([HEADER, [None, None, "缺项", 1, None, None]]), "没有填写项目名称"),
])
def test_a_bad_file_is_refused_in_chinese_and_nothing_is_saved(client_for, web_engine, content, why):
    qc = client_for("qc")
    token = _token(qc, "/scoring/standards/import")
    answer = qc.post("/scoring/standards/import/preview", data={"csrf_token": token},
                     files={"file": ("std.xlsx", content)})
    assert answer.status_code == 400 and why in answer.text
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ScoringStandard)) <= 1


def test_the_api_scores_a_drawn_record(client_for, november, world):
    qc = client_for("qc")
    token = _token(qc)
    headers = {"X-CSRF-Token": token}
    task = qc.post("/api/v1/scoring/tasks", json={"name": "接口抽查", "month": "2026-11", "count": 3, "seed": 5,
                                                  "reviewer_ids": [world.users["qc"].id]}, headers=headers).json()
    assert task["seed"] == 5 and task["rule"]["count"] == 3
    detail = qc.get(f"/api/v1/scoring/tasks/{task['id']}").json()
    assert detail["progress"][0]["total"] == 1 and detail["records"][0]["status"] == "unscored"
    score = qc.post(f"/api/v1/scoring/tasks/{task['id']}/records/{november['record']}/score", headers=headers).json()
    assert [d["state"] for d in score["deductions"]] == ["proposed"] and score["total"] == 100
    proposal = score["deductions"][0]["id"]
    score = qc.post(f"/api/v1/scoring/scores/{score['id']}/deductions/{proposal}/decision", json={"accept": False},
                    headers=headers).json()
    score = qc.post(f"/api/v1/scoring/scores/{score['id']}/deductions", json={
        "item_code": "14.1", "document_id": november["document"], "page": 1}, headers=headers).json()
    assert score["veto_deducted"] == 10 and score["total"] == 90
    final = qc.post(f"/api/v1/scoring/scores/{score['id']}/submit", json={}, headers=headers).json()
    assert final["status"] == "final" and final["grade"] == "甲" and final["scored_at"].endswith("+08:00")
    listed = qc.get("/api/v1/scoring/scores", params={"grade": "甲"}).json()
    assert listed["total"] == 1 and listed["items"][0]["inpatient_number"] == "ZY0001"
    refused = qc.post(f"/api/v1/scoring/scores/{score['id']}/deductions", json={
        "item_code": "1.1", "document_id": november["document"]}, headers=headers)
    assert refused.status_code == 409 and "评分已提交" in refused.json()["detail"]


def test_a_clinician_sees_no_scoring(client_for):
    doctor = client_for("clinician")
    assert doctor.get("/scoring/tasks").status_code == 403
    assert doctor.get("/api/v1/scoring/scores").status_code == 403
