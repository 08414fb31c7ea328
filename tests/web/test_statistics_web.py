"""The statistics pages and API through the app: indicators with their drill-down links, a report
with its chart data and xlsx, the monthly inputs, saved definitions shared with a role."""
from __future__ import annotations

import io
import json
import re

import openpyxl
from web_helpers import csrf_of

PERIOD = "from=2026-03-01&to=2026-03-31"


def test_the_indicator_api_gives_numerator_denominator_and_the_records_url(client_for, world):
    qc = client_for("qc")
    answer = qc.get(f"/api/v1/statistics/indicators?{PERIOD}")
    assert answer.status_code == 200, answer.text
    tl01 = next(item for item in answer.json()["indicators"] if item["code"] == "MER-TL-01")
    assert tl01["denominator"] == len(world.records) and tl01["records_url"].endswith("/tl-01/records")
    drill = qc.get(f"{tl01['records_url']}?{PERIOD}&part=denominator").json()
    assert drill["total"] == tl01["denominator"] and drill["records"][0]["url"].startswith("/records/")


def test_the_statistics_page_lists_the_indicators_and_links_the_archive_rate_report(client_for, world):
    archivist = client_for("archivist")
    page = archivist.get(f"/statistics?{PERIOD}")
    assert page.status_code == 200 and "MER-TL-01" in page.text and "/reports/archive-rate?from=2026-03" in page.text
    drill = archivist.get(f"/statistics/indicators/tl-01/records?{PERIOD}&part=denominator")
    assert drill.status_code == 200 and 'href="/records/' in drill.text


def test_a_report_page_carries_its_chart_data_and_exports_the_same_rows(client_for, world):
    archivist = client_for("archivist")
    page = archivist.get(f"/statistics/reports/paperless?{PERIOD}")
    assert page.status_code == 200 and "/static/statistics.js" in page.text
    data = json.loads(re.search(r'id="statistics-chart-data">(.*?)</script>', page.text, re.S).group(1))
    assert "心内科" in data["categories"]
    export = archivist.get(f"/statistics/reports/paperless.xlsx?{PERIOD}")
    rows = list(openpyxl.load_workbook(io.BytesIO(export.content)).worksheets[0].iter_rows(values_only=True))
    assert [row[0] for row in rows[1:-1]] == data["categories"] and rows[-1][0] == "合计"


def test_every_report_and_export_opens(client_for, world):
    archivist = client_for("archivist")
    for path in ("paperless", "borrowing", "copying", "defects", "overdue", "workload"):
        assert archivist.get(f"/statistics/reports/{path}?{PERIOD}").status_code == 200, path
        assert archivist.get(f"/statistics/reports/{path}.xlsx?{PERIOD}").status_code == 200, path
    for path in ("/statistics/fees", "/statistics/fees.xlsx", "/statistics/indicators.xlsx",
                 "/statistics/indicators/tq-01/records.xlsx", "/api/v1/statistics/fees", "/api/v1/statistics/blocks"):
        assert archivist.get(f"{path}?{PERIOD}").status_code == 200, path


def test_a_bad_date_is_a_400_in_chinese(client_for, world):
    answer = client_for("qc").get("/api/v1/statistics/indicators?from=2026-13-01")
    assert answer.status_code == 400 and "YYYY-MM-DD" in answer.json()["detail"]


def test_a_clinician_sees_no_statistics(client_for, world):
    assert client_for("clinician").get("/statistics").status_code == 403


def test_a_typed_monthly_figure_shows_on_the_indicator_page(client_for, world):
    archivist = client_for("archivist")
    token = csrf_of(archivist.get("/statistics/inputs?month=2026-03").text)
    answer = archivist.post("/statistics/inputs", data={"code": "MER-TQ-03", "month": "2026-03", "numerator": "9",
                                                       "denominator": "10", "csrf_token": token},
                            follow_redirects=False)
    assert answer.status_code == 303
    tq03 = next(item for item in archivist.get(f"/api/v1/statistics/indicators?{PERIOD}").json()["indicators"]
                if item["code"] == "MER-TQ-03")
    assert tq03["rate"] == 90.0


def test_a_saved_definition_shared_with_qc_runs_for_qc(client_for, world):
    archivist = client_for("archivist")
    token = csrf_of(archivist.get("/statistics/saved").text)
    answer = archivist.post("/statistics/saved", data={"name": "各科归档率", "dimension": "department",
                                                      "measure": ["discharged", "archive_rate"], "chart": "bar",
                                                      "role": "qc", "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    qc = client_for("qc")
    saved = qc.get("/api/v1/statistics/definitions").json()["definitions"]
    assert [item["name"] for item in saved] == ["各科归档率"]
    run = qc.get(f"{saved[0]['url']}?{PERIOD}").json()
    assert run["totals"]["discharged"] == len(world.records)
    assert qc.get(answer.headers["location"] + f"?{PERIOD}").status_code == 200


def test_editing_a_saved_definition_changes_what_it_counts_and_who_sees_it(client_for, world):
    archivist = client_for("archivist")
    token = csrf_of(archivist.get("/statistics/saved").text)
    made = archivist.post("/statistics/saved", data={"name": "各科归档率", "dimension": "department",
                                                    "measure": ["discharged", "archive_rate"], "chart": "bar",
                                                    "role": "qc", "csrf_token": token}, follow_redirects=False)
    location = made.headers["location"]
    editor = archivist.get(f"{location}/edit")
    assert editor.status_code == 200
    assert 'value="archive_rate" checked' in editor.text and 'value="qc" checked' in editor.text
    assert 'value="各科归档率"' in editor.text
    changed = archivist.post(location, data={"name": "各科缺陷病历", "dimension": "month", "chart": "line",
                                             "measure": ["discharged", "defective"], "role": "medical_affairs",
                                             "csrf_token": csrf_of(editor.text)}, follow_redirects=False)
    assert changed.status_code == 303 and changed.headers["location"] == location
    assert client_for("qc").get("/api/v1/statistics/definitions").json()["definitions"] == []
    affairs = client_for("medical_affairs")  # signed in once: a one-time code is refused the second time
    saved = affairs.get("/api/v1/statistics/definitions").json()["definitions"]
    assert [item["name"] for item in saved] == ["各科缺陷病历"]
    run = affairs.get(f"{saved[0]['url']}?{PERIOD}").json()
    assert run["dimension"] == "month" and [column["code"] for column in run["columns"]] == ["discharged", "defective"]


def test_a_definition_edited_into_an_impossible_grouping_is_refused_and_kept(client_for, world):
    archivist = client_for("archivist")
    token = csrf_of(archivist.get("/statistics/saved").text)
    made = archivist.post("/statistics/saved", data={"name": "复印用途", "dimension": "purpose",
                                                    "measure": ["copies"], "chart": "pie", "csrf_token": token},
                          follow_redirects=False)
    location = made.headers["location"]
    refused = archivist.post(location, data={"name": "复印用途", "dimension": "department", "measure": ["copies"],
                                             "chart": "pie", "csrf_token": token})
    assert refused.status_code == 400 and "不能按“科室”分组" in refused.text
    assert 'value="purpose" selected' in archivist.get(f"{location}/edit").text


def test_a_large_drill_down_is_exported_by_a_background_job_with_the_same_rows(client_for, world, web_engine,
                                                                               monkeypatch):
    from bingan.config import get_settings
    from bingan.records import jobs
    from bingan.records.statistics import exports
    from bingan.storage.blobs.port import open_blob_store

    monkeypatch.setattr(exports, "DIRECT_ROWS", 1)  # the test hospital's month counts as large
    archivist = client_for("archivist")
    drill = archivist.get(f"/statistics/indicators/tl-01/records?{PERIOD}&part=denominator")
    assert 'id="drill-export-job"' in drill.text and "后台导出 Excel" in drill.text
    started = archivist.post(f"/statistics/indicators/tl-01/records.xlsx?{PERIOD}&part=denominator",
                             data={"csrf_token": csrf_of(drill.text)}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"].startswith("/jobs/")
    job_id = int(started.headers["location"].rsplit("/", 1)[1])
    assert jobs.run_job(web_engine, open_blob_store(get_settings()), job_id) == "done"
    done = archivist.get(f"/api/v1/jobs/{job_id}").json()
    assert done["state"] == "done" and done["result_url"]
    made = archivist.get(done["result_url"])
    direct = archivist.get(f"/statistics/indicators/tl-01/records.xlsx?{PERIOD}&part=denominator")

    def rows(content: bytes) -> list[tuple]:
        return list(openpyxl.load_workbook(io.BytesIO(content)).worksheets[0].iter_rows(values_only=True))

    assert rows(made.content) == rows(direct.content) and len(rows(made.content)) == len(world.records) + 1
    assert client_for("clinician").get(done["result_url"]).status_code in (403, 404)
