"""Self-checks (系统自检, H2, H4): small checks over one record, each a plugin returning findings.

A check is ``def name(context: RecordContext) -> list[Finding]``; ``CHECKS`` is the list run in
order. A finding has a Chinese message, a severity — ``error`` keeps the record out of QC,
``warning`` is shown — and the document (and page) it points at. ``run_checks`` stores each run
(CheckRun with its findings) so QC and the record page show what the record looked like when it
was submitted or re-collected.

Public interface (QC, digitisation and release import these): Finding, CheckReport, run_checks,
latest_checks, missing_categories.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased, selectinload

from bingan import clock
from bingan.records.completeness import rules
from bingan.records.completeness.marks import open_marks
from bingan.storage.models import Category, CollectedItem, Document, Record, utcnow
from bingan.storage.models.completeness import CheckFinding, CheckRun, Mark
from bingan.storage.models.ingest import ACTIVE_ITEM_STATES

# Items whose document is not stored yet. "extracted" has its version committed (only the search
# index is behind), so it counts as collected: a re-collection's own item must not fail the
# checks it triggers.
WAITING_ITEM_STATES = tuple(state for state in ACTIVE_ITEM_STATES if state != "extracted")

CHECK_NAMES = {
    "collection": "采集完成",
    "completeness": "完整性",
    "timeliness": "书写时限",
    "front_page": "首页必填项",
    "codes": "编码格式",
    "signatures": "电子签名",
    "marks": "缺项与特殊标记",
}
SEVERITY_NAMES = {"error": "错误", "warning": "提醒"}


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str  # "error" | "warning"
    message: str
    document_id: int | None = None
    page: int | None = None


@dataclass(frozen=True)
class CheckReport:
    record_id: int
    run_at: datetime
    findings: tuple[Finding, ...]
    passed: bool = field(init=False)  # no error findings: the record may enter QC

    def __post_init__(self) -> None:
        object.__setattr__(self, "passed", not any(f.severity == "error" for f in self.findings))

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")


@dataclass
class RecordContext:
    """What the checks read, loaded once per run."""

    session: Session
    record: Record
    documents: list[Document]
    marks: list[Mark]
    _by_type: dict[str, list[Document]] = field(default_factory=dict)

    def of_type(self, *names: str) -> list[Document]:
        if not self._by_type:
            for document in self.documents:
                self._by_type.setdefault(document.document_type.name, []).append(document)
        return [d for name in names for d in self._by_type.get(name, [])]

    def first_of_type(self, *names: str) -> Document | None:
        found = self.of_type(*names)
        return found[0] if found else None


# --- the checks -------------------------------------------------------------------------------

def collection(context: RecordContext) -> list[Finding]:
    """采集完成: the record is past collection and no item of it waits, runs or failed."""
    record = context.record
    if record.status == "collecting":
        return [Finding("collection", "error", "病案仍在采集中（出院后采集期未结束），暂不能提交")]
    items = unfinished_items(context.session, record)
    findings = []
    for item in items:
        title = item.title or item.document_type_code or item.source_document_id
        if item.state == "failed":
            why = item.failure_reason or "原因未知"
            findings.append(Finding("collection", "error", f"文书“{title}”采集失败：{why}"))
        else:
            findings.append(Finding("collection", "error", f"文书“{title}”正在采集处理中，请稍后再提交"))
    return findings


def unfinished_items(session: Session, record: Record) -> list[CollectedItem]:
    """This record's collected items waiting, running, or failed with no later delivery of the
    same document that went through (a re-push after a failure settles it)."""
    mine = sa.or_(CollectedItem.record_id == record.id, sa.and_(
        CollectedItem.record_number == record.record_number, CollectedItem.stay == record.stay_number,
        CollectedItem.visit_type == record.visit_type))
    later = aliased(CollectedItem)
    settled_later = sa.exists().where(
        later.source_id == CollectedItem.source_id, later.source_document_id == CollectedItem.source_document_id,
        later.id > CollectedItem.id, later.state != "failed")
    return list(session.scalars(
        sa.select(CollectedItem).where(mine, sa.or_(
            CollectedItem.state.in_(WAITING_ITEM_STATES),
            sa.and_(CollectedItem.state == "failed", ~settled_later)))
        .order_by(CollectedItem.id)
    ))


def completeness(context: RecordContext) -> list[Finding]:
    """完整性: every applicable rule met; an item a clinician marked missing is a warning, not an error."""
    findings = []
    for unmet in rules.unmet(context.session, context.record, context.documents):
        mark = _covering_mark(context.marks, unmet)
        if mark is None:
            findings.append(Finding("completeness", "error", f"缺少{unmet.rule.name}"))
            continue
        expected = f"，预计 {mark.expected_date.isoformat()} 补交" if mark.expected_date else ""
        findings.append(Finding("completeness", "warning",
                                f"缺少{unmet.rule.name}（已标记缺项：{mark.reason}{expected}）"))
    return findings


def _covering_mark(marks: list[Mark], unmet: rules.Unmet) -> Mark | None:
    for mark in marks:
        if mark.kind != "missing":
            continue
        if mark.document_type_id is not None and mark.document_type_id in unmet.type_ids:
            return mark
        # A rule asking for a whole category is covered by a mark of any type filed in it; a mark
        # of a whole category covers any rule whose item is filed there.
        if unmet.rule.category_id is not None and mark.category_id == unmet.rule.category_id:
            return mark
        if mark.document_type_id is None and mark.category_id is not None and mark.category_id == unmet.category_id:
            return mark
    return None


# (document types, what the limit counts from, hours, indicator) — DOMAIN.md §6, MER-TL-01..04.
TIME_LIMITS = (
    (("入院记录", "再次或多次入院记录"), "admission", 24, "入院后 24 小时内"),
    (("首次病程记录",), "admission", 8, "入院后 8 小时内"),
    (("出院记录",), "discharge", 24, "出院后 24 小时内"),
    (("死亡记录",), "discharge", 24, "患者死亡后 24 小时内"),
    (("住院病案首页",), "discharge", 24, "出院后 24 小时内"),
)
OPERATION_NOTE = ("手术记录",)


def timeliness(context: RecordContext) -> list[Finding]:
    """书写时限, from the documents' own times (书写时间, else 签名时间); a document without either
    cannot be judged and is left alone."""
    record = context.record
    starts = {"admission": _aware(record.admitted_at), "discharge": _aware(record.discharged_at)}
    findings = []
    for names, start_kind, hours, wording in TIME_LIMITS:
        start = starts[start_kind]
        for document in context.of_type(*names) if start else []:
            late = _late(document, start, hours)
            if late:
                findings.append(Finding("timeliness", "warning",
                                        f"{document.document_type.name}未在{wording}完成：{late}", document.id))
    return findings + _operation_notes(context)


def _operation_notes(context: RecordContext) -> list[Finding]:
    """手术记录 within 24 hours of its operation: the last operation performed before it was written."""
    performed = sorted(clock.instant(o.performed_at) for o in context.record.operations if o.performed_at)
    findings = []
    for document in context.of_type(*OPERATION_NOTE) if performed else []:
        written = document_time(document)
        if written is None:
            continue
        operation = max((t for t in performed if t <= written), default=None)
        late = _late(document, operation, 24) if operation else ""
        if late:
            findings.append(Finding("timeliness", "warning", f"手术记录未在术后 24 小时内完成：{late}", document.id))
    return findings


def document_time(document: Document) -> datetime | None:
    return _aware(document.written_at or document.signed_at)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands stored times back naive (UTC); new objects hold aware ones."""
    return clock.instant(value) if value else None


def _late(document: Document, start: datetime, hours: int) -> str:
    """'' when on time, else what a reader needs to see it: both times and how much too late."""
    written = document_time(document)
    if written is None or written - start <= timedelta(hours=hours):
        return ""
    over = written - start - timedelta(hours=hours)
    return (f"书写于 {_local(written)}，起算时间 {_local(start)}，超时 {_duration(over)}")


def _local(value: datetime) -> str:
    return clock.local(value).strftime("%Y-%m-%d %H:%M")


def _duration(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    return "".join(part for part in (f"{days}天" if days else "", f"{hours}小时" if hours else "",
                                     f"{minutes}分钟" if minutes or not (days or hours) else ""))


# 首页 fields a record cannot be archived without (upload codes, DOMAIN.md §5); the record's own
# columns stand in when the front page was not delivered as fields.
FRONT_PAGE_FIELDS: tuple[tuple[str, str, Callable[[Record], object]], ...] = (
    ("A48", "病案号", lambda r: r.record_number),
    ("B12", "入院时间", lambda r: r.admitted_at),
    ("B15", "出院时间", lambda r: r.discharged_at),
    ("B13C", "入院科别", lambda r: r.admission_department_id),
    ("B16C", "出院科别", lambda r: r.discharge_department_id),
    ("C03C", "主要诊断编码", lambda r: r.diagnoses[0].code if r.diagnoses else None),
    ("C04N", "主要诊断名称", lambda r: r.diagnoses[0].name if r.diagnoses else None),
    ("B34C", "离院方式", lambda r: r.discharge_method),
)
DISCHARGE_METHODS = frozenset({"1", "2", "3", "4", "5", "9"})
EMPTY = frozenset({"", "-", "—", "None"})


def front_page(context: RecordContext) -> list[Finding]:
    """首页必填项: present in the delivered front page or in the record's own data."""
    record, page = context.record, context.record.front_page or {}
    document = _front_page_document(context)
    findings = []
    for code, label, own in FRONT_PAGE_FIELDS:
        value = page.get(code)
        if _empty(value) and _empty(own(record)):
            findings.append(Finding("front_page", "error", f"病案首页缺少{label}（{code}）", document))
    method = str(page.get("B34C") or record.discharge_method or "")
    if method and method not in EMPTY and method not in DISCHARGE_METHODS:
        findings.append(Finding("front_page", "error", f"病案首页离院方式“{method}”无效，应为 1–5 或 9", document))
    return findings


def _empty(value: object) -> bool:
    return value is None or str(value).strip() in EMPTY


def _front_page_document(context: RecordContext) -> int | None:
    document = context.first_of_type("住院病案首页")
    return document.id if document else None


# ICD-10 (national clinical editions too): J18.9, J18.900, K35.800x001, I10.x00 (x holds the place
# of a fourth character the category lacks), dagger/asterisk pairs A17.0†G01*, and tumour
# morphology M8140/3 or M81400/3. ICD-9-CM-3: 54.21, 54.2100, 54.2100x001, 74.1x01 (临床版).
_ICD10_ONE = r"[A-Z]\d{2}(?:\.(?:[0-9X]{1,3}|x\d{2})(?:x\d{3})?)?[+†*]?"
ICD10 = re.compile(rf"{_ICD10_ONE}(?:{_ICD10_ONE})?|M\d{{4,5}}/\d")
ICD9CM3 = re.compile(r"\d{2}\.\d{1,4}(?:x\d{2,3})?")


def valid_diagnosis_code(code: str) -> bool:
    return ICD10.fullmatch(code.strip()) is not None


def valid_operation_code(code: str) -> bool:
    return ICD9CM3.fullmatch(code.strip()) is not None


def codes(context: RecordContext) -> list[Finding]:
    """编码格式: diagnoses in ICD-10, operations in ICD-9-CM-3 (format only; the coder checks meaning)."""
    record, document = context.record, _front_page_document(context)
    findings = [
        Finding("codes", "error", f"诊断“{d.name}”的编码“{d.code}”不符合 ICD-10 格式（如 J18.900）", document)
        for d in record.diagnoses if not valid_diagnosis_code(d.code)
    ]
    findings += [
        Finding("codes", "error", f"手术操作“{o.name}”的编码“{o.code}”不符合 ICD-9-CM-3 格式（如 54.2100x001）",
                document)
        for o in record.operations if not valid_operation_code(o.code)
    ]
    return findings


FAILED_SIGNATURES = {"tampered": "签名后内容被篡改", "invalid": "签名无效", "unauthorised": "签名未经授权"}


def signatures(context: RecordContext) -> list[Finding]:
    """电子签名 (R1): a signature whose verification failed at collection keeps the record out of QC."""
    findings = []
    for document in context.documents:
        for signature in document.current_version.signatures or []:
            verdict = signature.get("verdict", "")
            if verdict in FAILED_SIGNATURES:
                signer = f"（{signature['signer']}）" if signature.get("signer") else ""
                reason = signature.get("reason") or FAILED_SIGNATURES[verdict]
                findings.append(Finding("signatures", "error",
                                        f"{document.title or document.document_type.name}的电子签名{signer}"
                                        f"验证未通过：{reason}", document.id))
    return findings


def marks(context: RecordContext) -> list[Finding]:
    """Open marks: every missing item not yet collected, and the special kinds, as warnings."""
    findings = []
    for mark in context.marks:
        if mark.kind == "special":
            findings.append(Finding("marks", "warning", f"特殊病案：{mark.special_kind}（{mark.reason}）"))
        else:
            expected = f"，预计 {mark.expected_date.isoformat()} 补交" if mark.expected_date else ""
            findings.append(Finding("marks", "warning", f"缺项待补收：{mark.what}（{mark.reason}{expected}）"))
    return findings


CHECKS: tuple[Callable[[RecordContext], list[Finding]], ...] = (
    collection, completeness, timeliness, front_page, codes, signatures, marks,
)


# --- running and reading ----------------------------------------------------------------------

def context_of(session: Session, record: Record) -> RecordContext:
    return RecordContext(session, record, rules.present_documents(session, record.id), open_marks(session, record.id))


def evaluate(session: Session, record: Record) -> list[Finding]:
    """Every check's findings, not stored (the bench and previews)."""
    context = context_of(session, record)
    return [finding for check in CHECKS for finding in check(context)]


def run_checks(session: Session, record: Record, trigger: str = "manual") -> CheckReport:
    """Run every check over the record, store the run with its findings, return the report."""
    findings = evaluate(session, record)
    run = CheckRun(record_id=record.id, run_at=utcnow(), trigger=trigger)
    run.findings = [CheckFinding(seq=i, check=f.check, severity=f.severity, message=f.message,
                                 document_id=f.document_id, page=f.page) for i, f in enumerate(findings)]
    report = CheckReport(record.id, run.run_at, tuple(findings))
    run.passed, run.errors, run.warnings = report.passed, len(report.errors), len(report.warnings)
    session.add(run)
    session.flush()
    return report


def latest_run(session: Session, record_id: int) -> CheckRun | None:
    return session.scalars(
        sa.select(CheckRun).where(CheckRun.record_id == record_id)
        .options(selectinload(CheckRun.findings)).order_by(CheckRun.run_at.desc(), CheckRun.id.desc()).limit(1)
    ).first()


def latest_checks(session: Session, record_id: int) -> CheckReport | None:
    run = latest_run(session, record_id)
    if run is None:
        return None
    return CheckReport(record_id, run.run_at, tuple(
        Finding(f.check, f.severity, f.message, f.document_id, f.page) for f in run.findings))


def missing_categories(session: Session, record: Record) -> list[str]:
    """Names of the categories (in filing order) of required items the record lacks; the
    digitisation "拍摄完成" gate asks this before a paper record counts as complete."""
    unmet = rules.unmet(session, record, rules.present_documents(session, record.id))
    ids = {u.category_id for u in unmet if u.category_id is not None}
    if not ids:
        return []
    return list(session.scalars(sa.select(Category.name).where(Category.id.in_(ids))
                                .order_by(Category.filing_order, Category.id)))


def report_json(report: CheckReport) -> dict:
    """The API form: {record_id, run_at (ISO with offset), passed, findings: [...]}."""
    return {
        "record_id": report.record_id, "run_at": clock.iso(report.run_at), "passed": report.passed,
        "findings": [{"check": f.check, "severity": f.severity, "message": f.message,
                      "document_id": f.document_id, "page": f.page} for f in report.findings],
    }
