"""The copy ledger through the app (issue 15 item 6): the clerk's payments and refund of today in
the JSON API, on the page with its charts, and in the xlsx workbook; who may not see it is refused."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import openpyxl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "release"))

from release_support import AGENT, PATIENT

from bingan import broker, clock
from bingan.records.workflows import install


@pytest.fixture(autouse=True)
def quiet_broker(monkeypatch) -> None:
    install()
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())


def _call(client, verb: str, url: str, **json):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.request(verb, url, json=json or None, headers={"X-CSRF-Token": token})


@pytest.fixture
def clerk(client_for):
    """Signed in once per test: a second sign-in within the same 30 s would reuse the one-time code."""
    return client_for("copy_clerk")


@pytest.fixture
def today(clerk, world) -> str:
    """Two paid requests (6.50 元 each, cash and card), the card one refunded."""
    for applicant, method, reference in ((AGENT, "cash", ""), (PATIENT, "card", "POS-778")):
        made = _call(clerk, "POST", "/api/v1/copy-requests", applicant=applicant,
                     record_ids=[world.records["normal"].id], package="reimbursement", purpose="医保报销").json()
        assert _call(clerk, "POST", f"/api/v1/copy-requests/{made['id']}/pay", method=method,
                     reference=reference).status_code == 200
    assert _call(clerk, "POST", f"/api/v1/copy-requests/{made['id']}/refund", reason="患者放弃").status_code == 200
    return clock.now().date().isoformat()


def test_the_api_sums_the_days_payments_and_refunds(clerk, today):
    ledger = clerk.get("/api/v1/copy-ledger", params={"from": today, "to": today}).json()
    totals = ledger["fees"]["totals"]
    assert (totals["payments"], totals["paid"], totals["refunds"], totals["refunded"], totals["net"]) == (
        2, "13.00", 1, "6.50", "6.50")
    assert {m["label"]: m["net_fen"] for m in ledger["fees"]["by_method"]} == {"现金": 650, "银行卡": 0}
    assert [e["amount"] for e in ledger["fees"]["entries"]] == ["6.50", "6.50", "-6.50"]
    assert ledger["fees"]["by_period"] == [{**ledger["fees"]["by_period"][0], "label": today, "net_fen": 650}]


def test_the_page_shows_the_sums_and_the_charts(client_for, today):
    page = client_for("archivist").get("/copy-ledger", params={"from": today, "to": today})
    assert page.status_code == 200
    for shown in ('id="paid-total">13.00', 'id="refunded-total">6.50', 'id="net-total">6.50', 'id="fee-chart"',
                  'id="copy-type-chart"', "POS-778", "患者放弃"):
        assert shown in page.text


def test_the_workbook_downloads(client_for, today):
    answer = client_for("medical_affairs").get("/copy-ledger.xlsx", params={"from": today, "to": today})
    assert answer.status_code == 200 and answer.headers["content-disposition"].startswith("attachment")
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    entries = list(book["收费流水"].iter_rows(min_row=2, values_only=True))
    assert [row[8] for row in entries] == [6.5, 6.5, -6.5] and entries[-1][9] == "患者放弃"


def test_a_wrong_period_is_refused_in_chinese(clerk):
    answer = clerk.get("/api/v1/copy-ledger", params={"from": "2026-03-05", "to": "2026-03-01"})
    assert answer.status_code == 400 and answer.json()["detail"] == "结束日期不能早于开始日期"
    page = clerk.get("/copy-ledger", params={"from": "2026-01-01", "to": "2026-12-31"})
    assert page.status_code == 400 and "按日汇总最长 92 天" in page.text


def test_who_has_no_ledger_right_is_refused(client_for):
    assert client_for("nurse").get("/api/v1/copy-ledger").status_code == 403
    assert client_for("clinician").get("/copy-ledger").status_code == 403
