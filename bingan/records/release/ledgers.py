"""Copy ledgers and statistics (复印收费台账与统计, J9, J11, J12, O1).

- 收费台账: every payment (收费) and refund (退费) of the period with its cashier, method and
  reference; sums per day or month, per cashier (收费员) and per payment method. A refund is the
  whole fee of its request, counted on the day it was refunded, by whoever refunded it; free
  requests (0 元) are no money and stay out.
- 复印统计: requests printed in the period per day or month and applicant type (申请数, 病案份数 =
  records × copies, 页数 = pages × copies, 应收金额), and the copy purposes (复印用途).

Days are the hospital's (bingan.clock); money in fen. Rows are read by the period's indexed
times (paid_at, refunded_at, printed_at) and summed here.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.errors import Refusal
from bingan.formats.spreadsheet import Spreadsheet
from bingan.records.release.rules import yuan
from bingan.records.release.service import PAYMENT_METHODS
from bingan.storage.models import User
from bingan.storage.models.release import CopyApplicantType, CopyRequest

GROUPS = {"day": "按日", "month": "按月"}
MAX_DAYS_BY_DAY = 92
MAX_DAYS = 366 * 5
NO_PURPOSE = "未填写"


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    group: str = "day"

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return clock.day_start(self.first), clock.day_bounds(self.last)[1]

    def key(self, moment: datetime) -> str:
        day = clock.local_date(moment)
        return f"{day:%Y-%m-%d}" if self.group == "day" else f"{day:%Y-%m}"

    def keys(self) -> list[str]:
        """Every day (or month) of the period, so quiet days show as 0."""
        days = (self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1))
        return list(dict.fromkeys(f"{d:%Y-%m-%d}" if self.group == "day" else f"{d:%Y-%m}" for d in days))

    @property
    def label(self) -> str:
        return f"{self.first:%Y-%m-%d} 至 {self.last:%Y-%m-%d}"


def period(first: date | None, last: date | None, group: str = "day") -> Period:
    """The asked period; by default this month up to today. Refuses a reversed or too long one."""
    today = clock.now().date()
    first = first or today.replace(day=1)
    last = last or max(today, first)
    if group not in GROUPS:
        raise Refusal("汇总方式应为 day（按日）或 month（按月）")
    if last < first:
        raise Refusal("结束日期不能早于开始日期")
    span = (last - first).days + 1
    if span > MAX_DAYS:
        raise Refusal("统计期间最长 5 年")
    if group == "day" and span > MAX_DAYS_BY_DAY:
        raise Refusal(f"按日汇总最长 {MAX_DAYS_BY_DAY} 天，更长的期间请按月汇总")
    return Period(first, last, group)


# --- the fee ledger ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One line of the ledger: a payment (amount > 0) or a refund (amount < 0)."""

    at: datetime
    kind: str  # 收费 | 退费
    request_id: int
    applicant: str
    applicant_type: str
    cashier: str
    method: str
    reference: str
    amount_fen: int
    reason: str = ""


@dataclass
class Sums:
    label: str
    payments: int = 0
    paid_fen: int = 0
    refunds: int = 0
    refunded_fen: int = 0

    @property
    def net_fen(self) -> int:
        return self.paid_fen - self.refunded_fen

    def add(self, entry: Entry) -> None:
        if entry.amount_fen >= 0:
            self.payments, self.paid_fen = self.payments + 1, self.paid_fen + entry.amount_fen
        else:
            self.refunds, self.refunded_fen = self.refunds + 1, self.refunded_fen - entry.amount_fen


@dataclass
class FeeLedger:
    period: Period
    entries: list[Entry]
    by_period: list[Sums]
    by_cashier: list[Sums]
    by_method: list[Sums]
    totals: Sums


def fee_ledger(session: Session, period: Period) -> FeeLedger:
    start, end = period.bounds
    users = _user_names(session)
    types = _type_names(session)
    paid = session.scalars(sa.select(CopyRequest).where(CopyRequest.paid_at >= start, CopyRequest.paid_at < end,
                                                        CopyRequest.fee_fen > 0))
    refunded = session.scalars(sa.select(CopyRequest).where(
        CopyRequest.refunded_at >= start, CopyRequest.refunded_at < end, CopyRequest.fee_fen > 0))
    entries = sorted([*(_entry(r, "收费", r.paid_at, r.paid_by_id, users, types) for r in paid),
                      *(_entry(r, "退费", r.refunded_at, r.refunded_by_id, users, types) for r in refunded)],
                     key=lambda e: (clock.instant(e.at), e.request_id, e.kind))
    totals = Sums("合计")
    for entry in entries:
        totals.add(entry)
    return FeeLedger(period, entries, _sums(entries, lambda e: period.key(e.at), period.keys()),
                     _sums(entries, lambda e: e.cashier), _sums(entries, lambda e: e.method), totals)


def _entry(request: CopyRequest, kind: str, at: datetime | None, user_id: int | None, users: dict[int, str],
           types: dict[str, str]) -> Entry:
    refund = kind == "退费"
    return Entry(at=clock.instant(at), kind=kind, request_id=request.id, applicant=request.applicant_name,
                 applicant_type=types.get(request.applicant_type, request.applicant_type),
                 cashier=users.get(user_id or 0, ""),
                 method=PAYMENT_METHODS.get(request.payment_method, request.payment_method),
                 reference=request.payment_reference, amount_fen=-request.fee_fen if refund else request.fee_fen,
                 reason=request.refund_reason if refund else "")


def _sums(entries: list[Entry], key, labels: Iterable[str] = ()) -> list[Sums]:
    found = {label: Sums(label) for label in labels}
    for entry in entries:
        found.setdefault(key(entry), Sums(key(entry))).add(entry)
    return list(found.values())


def _user_names(session: Session) -> dict[int, str]:
    return {user_id: f"{name or username}（{username}）" for user_id, name, username
            in session.execute(sa.select(User.id, User.full_name, User.username))}


def _type_names(session: Session) -> dict[str, str]:
    """code → name of the applicant types, in the window's order."""
    return dict(session.execute(sa.select(CopyApplicantType.code, CopyApplicantType.name)
                                .order_by(CopyApplicantType.sort_order, CopyApplicantType.id)).all())


# --- copies by period, applicant type and purpose --------------------------------------------------

@dataclass
class CopyCount:
    label: str
    requests: int = 0
    records: int = 0  # 病案份数: records × copies
    pages: int = 0  # 页数: pages × copies
    fee_fen: int = 0

    def add(self, request: CopyRequest) -> None:
        self.requests += 1
        self.records += len(request.record_ids) * request.copies
        self.pages += request.pages * request.copies
        self.fee_fen += request.fee_fen


@dataclass
class CopyStatistics:
    period: Period
    by_period: list[CopyCount]
    by_type: list[CopyCount]
    rows: list[tuple[str, CopyCount]] = field(default_factory=list)  # (period, count per applicant type)
    purposes: list[CopyCount] = field(default_factory=list)
    totals: CopyCount = field(default_factory=lambda: CopyCount("合计"))


def copy_statistics(session: Session, period: Period) -> CopyStatistics:
    """Requests printed in the period (a printed request refunded later was still copied)."""
    start, end = period.bounds
    types = _type_names(session)
    printed = list(session.scalars(sa.select(CopyRequest).where(CopyRequest.printed_at >= start,
                                                                CopyRequest.printed_at < end)
                                   .order_by(CopyRequest.printed_at, CopyRequest.id)))
    stats = CopyStatistics(period, _counts(printed, lambda r: period.key(r.printed_at), period.keys()),
                           _counts(printed, lambda r: types.get(r.applicant_type, r.applicant_type), types.values()))
    cells: dict[tuple[str, str], CopyCount] = {}
    for request in printed:
        kind = types.get(request.applicant_type, request.applicant_type)
        cells.setdefault((period.key(request.printed_at), kind), CopyCount(kind)).add(request)
        stats.totals.add(request)
    rank = {name: number for number, name in enumerate(types.values())}
    stats.rows = [(key, cells[key, kind]) for key, kind in sorted(cells, key=lambda k: (k[0], rank.get(k[1], 99)))]
    stats.purposes = sorted(_counts(printed, lambda r: (r.purpose or "").strip() or NO_PURPOSE),
                            key=lambda c: (-c.requests, c.label))
    return stats


def _counts(requests: list[CopyRequest], key, labels: Iterable[str] = ()) -> list[CopyCount]:
    found = {label: CopyCount(label) for label in labels}
    for request in requests:
        found.setdefault(key(request), CopyCount(key(request))).add(request)
    return list(found.values())


# --- answers: JSON and xlsx ------------------------------------------------------------------------

def as_json(ledger: FeeLedger, stats: CopyStatistics) -> dict:
    return {
        "from": ledger.period.first.isoformat(), "to": ledger.period.last.isoformat(), "group": ledger.period.group,
        "fees": {
            "totals": _sums_json(ledger.totals),
            "by_period": [_sums_json(s) for s in ledger.by_period],
            "by_cashier": [_sums_json(s) for s in ledger.by_cashier],
            "by_method": [_sums_json(s) for s in ledger.by_method],
            "entries": [{"at": clock.iso(e.at), "kind": e.kind, "copy_request_id": e.request_id,
                         "applicant": e.applicant, "applicant_type": e.applicant_type, "cashier": e.cashier,
                         "method": e.method, "reference": e.reference, "amount_fen": e.amount_fen,
                         "amount": yuan_signed(e.amount_fen), "reason": e.reason} for e in ledger.entries],
        },
        "copies": {
            "totals": _count_json(stats.totals),
            "by_period": [_count_json(c) for c in stats.by_period],
            "by_applicant_type": [_count_json(c) for c in stats.by_type],
            "rows": [{"period": key, **_count_json(c, "applicant_type")} for key, c in stats.rows],
            "purposes": [_count_json(c, "purpose") for c in stats.purposes],
        },
    }


def _sums_json(sums: Sums) -> dict:
    return {"label": sums.label, "payments": sums.payments, "paid_fen": sums.paid_fen, "paid": yuan(sums.paid_fen),
            "refunds": sums.refunds, "refunded_fen": sums.refunded_fen, "refunded": yuan(sums.refunded_fen),
            "net_fen": sums.net_fen, "net": yuan_signed(sums.net_fen)}


def _count_json(count: CopyCount, name: str = "label") -> dict:
    return {name: count.label, "requests": count.requests, "records": count.records, "pages": count.pages,
            "fee_fen": count.fee_fen, "fee": yuan(count.fee_fen)}


def yuan_signed(fen: int) -> str:
    return f"-{yuan(-fen)}" if fen < 0 else yuan(fen)


SUM_HEADERS = ("收费笔数", "收费金额（元）", "退费笔数", "退费金额（元）", "净收入（元）")
COUNT_HEADERS = ("申请数", "病案份数", "页数", "应收金额（元）")


def to_xlsx(ledger: FeeLedger, stats: CopyStatistics) -> bytes:
    """One workbook: the ledger's lines, its sums, the copies and the purposes."""
    book = Spreadsheet()
    lines = book.sheet("收费流水", ("时间", "类别", "申请号", "申请人", "申请人类型", "收费员", "支付方式",
                                   "凭证号", "金额（元）", "退费原因"))
    for e in ledger.entries:
        lines.append((f"{clock.local(e.at):%Y-%m-%d %H:%M:%S}", e.kind, e.request_id, e.applicant, e.applicant_type,
                      e.cashier, e.method, e.reference, e.amount_fen / 100, e.reason))
    group = GROUPS[ledger.period.group]
    for title, first, rows in ((f"收费汇总（{group}）", "日期" if ledger.period.group == "day" else "月份",
                                ledger.by_period), ("按收费员", "收费员", ledger.by_cashier),
                               ("按支付方式", "支付方式", ledger.by_method)):
        sheet = book.sheet(title, (first, *SUM_HEADERS))
        for s in [*rows, ledger.totals]:
            sheet.append((s.label, s.payments, s.paid_fen / 100, s.refunds, s.refunded_fen / 100, s.net_fen / 100))
    copies = book.sheet(f"复印统计（{group}）", ("期间", "申请人类型", *COUNT_HEADERS))
    for key, c in stats.rows:
        copies.append((key, c.label, c.requests, c.records, c.pages, c.fee_fen / 100))
    t = stats.totals
    copies.append(("合计", "", t.requests, t.records, t.pages, t.fee_fen / 100))
    purposes = book.sheet("复印用途", ("复印用途", *COUNT_HEADERS))
    for c in [*stats.purposes, stats.totals]:
        purposes.append((c.label, c.requests, c.records, c.pages, c.fee_fen / 100))
    notes = book.sheet("说明", ("项目", "内容"))
    notes.append(("统计期间", f"{ledger.period.label}（医院本地时间）"))
    notes.append(("收费台账", "按缴费时间计收费、按退费时间计退费；退费为该申请的全部费用；免费申请不计入"))
    notes.append(("复印统计", "按打印时间统计已打印的申请；病案份数＝病案数×份数，页数＝每份页数×份数"))
    return book.close()
