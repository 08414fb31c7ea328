"""Retention (保存期限与到期销毁, V5): which records have passed their keeping period, applying to
destroy them, and the destruction itself in the transaction of the last approval.

A record is due when its patient's last stay (or visit) of the same type ended longer ago than
the rule's years (inpatient 30, outpatient 15; editable). Nothing is ever destroyed by itself:
due records are listed, and destroying needs an approved request. Sealed or held records are
never due. Destroying removes the content — page text, page images, the encrypted files — and
keeps the record row, its document list and a tombstone with every version's SHA-256 (the
destruction register, 销毁清册). The files leave the volumes after the commit, in a timed job,
so a rolled-back approval destroys nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.errors import Conflict, Refusal
from bingan.records.approvals import engine
from bingan.storage.blobs.port import BlobStore
from bingan.storage.models import (
    ApprovalRequest,
    Document,
    Page,
    Record,
    User,
    Version,
)
from bingan.storage.models.approvals import OPEN_STATUSES
from bingan.storage.models.retention import Destruction, RetentionRule
from bingan.storage.models.search import queue_access_refresh

KIND = "destroy"
VISIT_TYPES = {"inpatient": "住院", "outpatient": "门诊"}
MAX_BATCH = 500


@dataclass(frozen=True)
class DueRecord:
    record: Record
    last_visit_on: date
    due_on: date
    open_request_id: int | None


def rules(session: Session) -> list[RetentionRule]:
    return list(session.scalars(sa.select(RetentionRule).order_by(RetentionRule.visit_type, RetentionRule.record_kind)))


def save_rule(session: Session, actor: Actor, visit_type: str, record_kind: str, years: int) -> RetentionRule:
    if visit_type not in VISIT_TYPES:
        raise Refusal("就诊类型只能是住院或门诊")
    if not 1 <= years <= 100:
        raise Refusal("保存年限应为 1–100 年")
    rule = session.scalars(sa.select(RetentionRule).where(
        RetentionRule.visit_type == visit_type, RetentionRule.record_kind == record_kind)).one_or_none()
    if rule is None:
        rule = RetentionRule(visit_type=visit_type, record_kind=record_kind, years=years)
        session.add(rule)
    before, rule.years = rule.years, years
    session.flush()
    record_event(session, actor, "retention.rule", object_type="retention_rule", object_id=rule.id,
                 detail={"就诊类型": VISIT_TYPES[visit_type], "病案类型": record_kind or "全部",
                         "原年限": before, "新年限": years})
    return rule


def due_records(session: Session, today: date, limit: int = MAX_BATCH) -> list[DueRecord]:
    """Records past their keeping period on ``today``, oldest first; sealed, held and destroyed
    records are never due."""
    last_visit = (sa.select(Record.patient_id, Record.visit_type,
                            sa.func.max(Record.discharged_at).label("last_at"))
                  .group_by(Record.patient_id, Record.visit_type).subquery())
    destroyed = sa.select(Destruction.record_id)
    found: dict[int, DueRecord] = {}
    ordered = _rules_by_specificity(session)
    for rule in ordered:
        # due on the anniversary itself: the last day ended on or before today minus the years
        cutoff = clock.day_start(_years_before(today, rule.years) + timedelta(days=1))
        query = (sa.select(Record, last_visit.c.last_at)
                 .join(last_visit, sa.and_(last_visit.c.patient_id == Record.patient_id,
                                           last_visit.c.visit_type == Record.visit_type))
                 .where(Record.visit_type == rule.visit_type, last_visit.c.last_at < cutoff,
                        Record.sealed.is_(False), Record.legal_hold.is_(False), Record.id.not_in(destroyed))
                 .order_by(last_visit.c.last_at, Record.id).limit(limit))
        if rule.record_kind:
            query = query.where(Record.kind == rule.record_kind)
        for record, last_at in session.execute(query):
            if record.id in found or _rule_for(ordered, record) is not rule:
                continue  # a kind with a rule of its own is judged by that rule
            last_day = clock.local_date(last_at)
            found[record.id] = DueRecord(record, last_day, _years_after(last_day, rule.years),
                                         _open_request(session, record.id))
    return sorted(found.values(), key=lambda due: (due.last_visit_on, due.record.id))[:limit]


def apply_destroy(session: Session, actor: Actor, applicant: User, record_ids: list[int],
                  reason: str) -> list[ApprovalRequest]:
    """One request per record (each goes through the destroy flow on its own)."""
    if not record_ids:
        raise Refusal("请选择要销毁的到期病案")
    if len(record_ids) > MAX_BATCH:
        raise Refusal(f"一次最多申请销毁 {MAX_BATCH} 份病案")
    requests = []
    for record_id in sorted(set(record_ids)):
        record = session.get(Record, record_id)
        if record is None:
            raise Refusal(f"病案 {record_id} 不存在")
        requests.append(engine.submit(session, actor, applicant, KIND, record, reason))
    return requests


def check_apply(session: Session, _applicant: User, record: Record, payload: dict) -> None:
    """Only a record due on the day of the application; its dates go with the request."""
    due = _due(session, record, clock.local_date(clock.now()))
    payload.update(last_visit_on=due.last_visit_on.isoformat(), due_on=due.due_on.isoformat())


def on_approved(session: Session, request: ApprovalRequest, actor: Actor) -> None:
    """The last approval destroys the content — if the record is still due (a hold or a new stay
    since the application stops it)."""
    record = request.record
    due = _due(session, record, clock.local_date(clock.now()))
    destroy(session, actor, record, due, request)


def destroy(session: Session, actor: Actor, record: Record, due: DueRecord, request: ApprovalRequest) -> Destruction:
    documents = session.scalars(sa.select(Document).where(Document.record_id == record.id)
                                .order_by(Document.id)).all()
    register = [_register_entry(session, document) for document in documents]
    version_ids = [version["id"] for entry in register for version in entry["versions"]]
    if version_ids:
        session.execute(sa.delete(Page).where(Page.version_id.in_(version_ids)))
    for document in documents:
        document.removed = True
    tombstone = Destruction(record_id=record.id, request_id=request.id, last_visit_on=due.last_visit_on,
                            due_on=due.due_on, reason=request.reason, documents=register,
                            destroyed_by_id=actor.user_id)
    session.add(tombstone)
    queue_access_refresh(session, {record.id})  # its pages leave the search index at the next tick
    record_event(session, actor, "record.destroy", object_type="record", object_id=record.id, record_id=record.id,
                 detail={"申请": request.id, "末次就诊": due.last_visit_on.isoformat(),
                         "到期日": due.due_on.isoformat(), "文书数": len(register),
                         "文件数": len(version_ids)})
    return tombstone


def destroyed(session: Session, record_id: int) -> Destruction | None:
    return session.scalars(sa.select(Destruction).where(Destruction.record_id == record_id)).one_or_none()


def register_rows(session: Session, limit: int = 1000) -> list[Destruction]:
    return list(session.scalars(sa.select(Destruction).order_by(Destruction.destroyed_at.desc()).limit(limit)))


REGISTER_HEADERS = ("病案号", "住院次数", "患者", "末次就诊", "到期日", "销毁时间", "执行人", "文书数",
                    "文件及 SHA-256")


def register_cells(row: Destruction) -> list[object]:
    """One line of the destruction register (销毁清册) as exported."""
    record = row.record
    return [record.record_number, record.stay_number, record.patient.name if record.patient else "",
            row.last_visit_on.isoformat(), row.due_on.isoformat(),
            clock.local(row.destroyed_at).strftime("%Y-%m-%d %H:%M"),
            row.destroyed_by.full_name if row.destroyed_by else "", len(row.documents),
            "；".join(f"{entry['title']} 第{version['number']}版 {version['sha256']}"
                     for entry in row.documents for version in entry["versions"])]


def remove_destroyed_files(session: Session, store: BlobStore, now: datetime) -> int:
    """Delete the files of destroyed records that nothing else still uses (the same content can
    belong to another record: blobs are content-addressed). Runs after the commit of the
    destruction, so a rolled-back approval never loses a file."""
    removed = 0
    for tombstone in session.scalars(sa.select(Destruction).where(Destruction.files_removed_at.is_(None))):
        shas = {version["sha256"] for entry in tombstone.documents for version in entry["versions"]}
        for sha in sorted(shas):
            if not _used_elsewhere(session, sha, tombstone.record_id) and store.exists(sha):
                store.delete(sha)
                removed += 1
        tombstone.files_removed_at = now
    return removed


def _due(session: Session, record: Record, today: date) -> DueRecord:
    if destroyed(session, record.id) is not None:
        raise Conflict("该病案的内容已销毁")
    if record.sealed or record.legal_hold:
        raise Conflict("病案已封存或处于法律保全，不能销毁")
    rule = _rule_for(_rules_by_specificity(session), record)
    last_at = session.scalar(sa.select(sa.func.max(Record.discharged_at)).where(
        Record.patient_id == record.patient_id, Record.visit_type == record.visit_type))
    if rule is None or last_at is None:
        raise Conflict("该病案没有适用的保存期限或没有出院（就诊）日期，不能销毁")
    last_day = clock.local_date(last_at)
    due_on = _years_after(last_day, rule.years)
    if due_on > today:
        raise Conflict(f"该病案保存期限到 {due_on.isoformat()} 才届满（患者末次{VISIT_TYPES.get(record.visit_type, '')}"
                       f" {last_day.isoformat()}，保存 {rule.years} 年）")
    return DueRecord(record, last_day, due_on, None)


def _rules_by_specificity(session: Session) -> list[RetentionRule]:
    return sorted(rules(session), key=lambda rule: (rule.record_kind == "", rule.visit_type))


def _rule_for(ordered: list[RetentionRule], record: Record) -> RetentionRule | None:
    """The rule of the record's kind if there is one, else its visit type's general rule."""
    return next((rule for rule in ordered if rule.visit_type == record.visit_type
                 and rule.record_kind in ("", record.kind)), None)


def _open_request(session: Session, record_id: int) -> int | None:
    return session.scalar(sa.select(ApprovalRequest.id).where(
        ApprovalRequest.kind == KIND, ApprovalRequest.record_id == record_id,
        ApprovalRequest.status.in_(OPEN_STATUSES)))


def _register_entry(session: Session, document: Document) -> dict:
    versions = session.scalars(sa.select(Version).where(Version.document_id == document.id)
                               .order_by(Version.number)).all()
    return {"document_id": document.id, "title": document.title,
            "type": document.document_type.name if document.document_type else "",
            "versions": [{"id": v.id, "number": v.number, "sha256": v.sha256, "size": v.size,
                          "pages": v.page_count} for v in versions]}


def _used_elsewhere(session: Session, sha: str, record_id: int) -> bool:
    return session.scalar(
        sa.select(sa.func.count()).select_from(Version).join(Document, Version.document_id == Document.id)
        .where(Version.sha256 == sha, Document.record_id != record_id, Document.removed.is_(False))) > 0


def _years_before(day: date, years: int) -> date:
    return _shift_years(day, -years)


def _years_after(day: date, years: int) -> date:
    return _shift_years(day, years)


def _shift_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)
