"""Copy ledgers and statistics (issue 15 item 6, J9, J11, J12, O1) on a small table of requests
whose sums are worked out by hand: payments and refunds per hospital day, cashier and method;
copies per applicant type; purposes.

The table (normal record: 报销套餐 = 入院记录 + 出院记录, 6 pages; fee 0.50 元/page + 5.00 元 调档费):

    request  applicant  what            copies  fee    paid (local)          refunded            printed
    A        患者本人   报销套餐         1       8.00   03-02 07:30 现金 clerk  -                   03-02 09:00
    B        患者代理人 报销套餐         2      11.00   03-02 15:00 银行卡 arch -                   03-03 09:00
    C        患者本人   出院记录 (3 p.)  1       6.50   03-03 11:00 线上 clerk  03-04 09:00 arch    -
    D        公安机关   住院病案首页     1       0      -                     -                   03-04 10:00
    E        患者本人   报销套餐         1       8.00   03-05 00:30 现金 clerk  -                   -

Period 03-02 … 03-04 (Beijing days; A's 07:30 is still 03-01 in UTC, E's 00:30 is 03-04 in UTC).
"""
from __future__ import annotations

import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from release_support import AGENT, PATIENT, POLICE

from bingan.access.audit import Actor
from bingan.errors import Refusal
from bingan.records.release import ledgers, service

BEIJING = ZoneInfo("Asia/Shanghai")
PERIOD = ledgers.Period(date(2026, 3, 2), date(2026, 3, 4), "day")


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=BEIJING).astimezone(UTC)


def _request(session, world, applicant, *, paid=None, by="copy_clerk", method="cash", reference="", refunded=None,
             printed=None, purpose="", copies=1, **what):
    clerk = world.users["copy_clerk"]
    form = service.CopyForm(applicant=service.Applicant(**applicant), record_ids=[world.records["normal"].id],
                            copies=copies, purpose=purpose, **what)
    request = service.create_request(session, Actor.of(clerk), clerk, [world.records["normal"]], form)
    if paid:
        cashier = world.users[by]
        service.pay(session, Actor.of(cashier), cashier, request, method, reference)
        request.paid_at = paid
    if printed:
        service.register_prints(session, Actor.of(clerk), request)
        request.printed_at = printed
    if refunded:
        archivist = world.users["archivist"]
        service.refund(session, Actor.of(archivist), archivist, request, "重复缴费")
        request.refunded_at = refunded
    session.commit()
    return request


@pytest.fixture
def table(session, world):
    _request(session, world, PATIENT, package="reimbursement", paid=_at(2, 7, 30), printed=_at(2, 9))
    _request(session, world, AGENT, package="reimbursement", copies=2, paid=_at(2, 15), by="archivist",
             method="card", reference="C123", printed=_at(3, 9), purpose="医保报销")
    _request(session, world, PATIENT, categories=["出院记录"], paid=_at(3, 11), method="online", reference="W1",
             refunded=_at(4, 9))
    _request(session, world, POLICE, categories=["住院病案首页"], printed=_at(4, 10), purpose="办案")
    _request(session, world, PATIENT, package="reimbursement", paid=_at(5, 0, 30))


def _sums(rows):
    return {s.label: (s.payments, s.paid_fen, s.refunds, s.refunded_fen, s.net_fen) for s in rows}


def test_the_fee_ledger_lists_each_payment_and_refund_of_the_period(session, world, table):
    ledger = ledgers.fee_ledger(session, PERIOD)
    assert [(e.kind, e.applicant, e.amount_fen, e.method) for e in ledger.entries] == [
        ("收费", "王建国", 800, "现金"), ("收费", "王小明", 1100, "银行卡"), ("收费", "王建国", 650, "线上支付"),
        ("退费", "王建国", -650, "线上支付")]
    assert ledger.entries[-1].reason == "重复缴费" and ledger.entries[1].reference == "C123"


def test_the_fee_ledger_sums_by_hospital_day(session, world, table):
    ledger = ledgers.fee_ledger(session, PERIOD)
    assert _sums(ledger.by_period) == {"2026-03-02": (2, 1900, 0, 0, 1900), "2026-03-03": (1, 650, 0, 0, 650),
                                       "2026-03-04": (0, 0, 1, 650, -650)}
    assert _sums([ledger.totals]) == {"合计": (3, 2550, 1, 650, 1900)}


def test_the_fee_ledger_sums_by_cashier_and_by_method(session, world, table):
    ledger = ledgers.fee_ledger(session, PERIOD)
    clerk, archivist = (f"测试{role}（u_{role}）" for role in ("copy_clerk", "archivist"))
    assert _sums(ledger.by_cashier) == {clerk: (2, 1450, 0, 0, 1450), archivist: (1, 1100, 1, 650, 450)}
    assert _sums(ledger.by_method) == {"现金": (1, 800, 0, 0, 800), "银行卡": (1, 1100, 0, 0, 1100),
                                       "线上支付": (1, 650, 1, 650, 0)}


def test_a_month_sums_the_days(session, world, table):
    ledger = ledgers.fee_ledger(session, ledgers.period(date(2026, 3, 1), date(2026, 3, 31), "month"))
    assert _sums(ledger.by_period) == {"2026-03": (4, 3350, 1, 650, 2700)}


def test_copies_are_counted_by_applicant_type_when_printed(session, world, table):
    stats = ledgers.copy_statistics(session, PERIOD)
    by_type = {c.label: (c.requests, c.records, c.pages, c.fee_fen) for c in stats.by_type if c.requests}
    assert by_type == {"患者本人": (1, 1, 6, 800), "患者代理人": (1, 2, 12, 1100), "公安机关": (1, 1, 3, 0)}
    assert [(key, c.label, c.pages) for key, c in stats.rows] == [
        ("2026-03-02", "患者本人", 6), ("2026-03-03", "患者代理人", 12), ("2026-03-04", "公安机关", 3)]
    assert (stats.totals.requests, stats.totals.records, stats.totals.pages) == (3, 4, 21)


def test_copy_purposes_are_counted(session, world, table):
    stats = ledgers.copy_statistics(session, PERIOD)
    assert {c.label: (c.requests, c.pages) for c in stats.purposes} == {"医保报销": (1, 12), "办案": (1, 3),
                                                                         "未填写": (1, 6)}


def test_the_workbook_holds_the_same_sums(session, world, table):
    book = openpyxl.load_workbook(io.BytesIO(ledgers.to_xlsx(ledgers.fee_ledger(session, PERIOD),
                                                             ledgers.copy_statistics(session, PERIOD))))
    assert book.sheetnames[:4] == ["收费流水", "收费汇总（按日）", "按收费员", "按支付方式"]
    total = [row for row in book["收费汇总（按日）"].iter_rows(values_only=True) if row[0] == "合计"]
    assert total == [("合计", 3, 25.5, 1, 6.5, 19)]
    assert [row[8] for row in book["收费流水"].iter_rows(min_row=2, values_only=True)] == [8, 11, 6.5, -6.5]


@pytest.mark.parametrize(("first", "last", "group", "message"), [
    (date(2026, 3, 5), date(2026, 3, 1), "day", "结束日期不能早于开始日期"),
    (date(2026, 1, 1), date(2026, 6, 1), "day", "按日汇总最长 92 天"),
    (date(2020, 1, 1), date(2026, 6, 1), "month", "最长 5 年"),
    (date(2026, 1, 1), date(2026, 1, 2), "week", "汇总方式"),
])
def test_a_wrong_period_is_refused(first, last, group, message):
    with pytest.raises(Refusal, match=message):
        ledgers.period(first, last, group)
