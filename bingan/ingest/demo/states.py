"""The demo record room at work: records in every life-cycle state, holds, pending changes, loans.

Run at the end of the demo load, through the real service functions — life-cycle moves
(records/lifecycle.py), the approval engine for borrowing, the collection pipeline for a version
arriving after archiving — never by writing columns. The plan depends only on the records'
order (病案号, 住院次数), so the same seed gives the same states; records already moved (a second
load) are left as they are.

Most records end archived (归档), as in a real archive; by position in each ten: 待提交, 待质控,
质控中, 已退回 once each; one recalled (召回中); one record in twenty sealed (封存), one under legal
hold (法律保全); two archived records get a later version of their discharge summary (or first
course record) as a pending change (待审核变更); two archived records of other departments are
lent to the demo clinician by an approved borrowing request (借阅).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor
from bingan.ingest.demo.accounts import CLINICAL_DEPARTMENT
from bingan.ingest.demo.hospital import DemoRecord
from bingan.records import lifecycle, workflows
from bingan.records.approvals import engine
from bingan.storage.models import ApprovalFlow, ApprovalRequest, ApprovalTask, Record, User

DEMO = Actor(None, "演示数据")
PATHS = {
    "awaiting": ("awaiting",),
    "submitted": ("awaiting", "submitted"),
    "qc": ("awaiting", "submitted", "qc"),
    "returned": ("awaiting", "submitted", "qc", "returned"),
    "archived": ("awaiting", "submitted", "qc", "archived"),
    "recalled": ("awaiting", "submitted", "qc", "archived", "recalled"),
}
# 采集中, or 待提交 when the worker's tick closed the collection while the demo was loading.
FRESH = ("collecting", "awaiting")
BY_POSITION = {1: "awaiting", 3: "submitted", 5: "qc", 7: "returned"}  # in each ten; the rest archived
# Holds, changes and loans stay clear of the first ten records: the showcase patients the README
# and the first-hour walk lead to (hospital.SHOWCASE) stay readable on their wards.
CLEAR = 10  # positions before this one get a plain state only
RECALLED = 12
LEGAL_HOLD = 18
SEALED_EVERY = 20  # positions 14, 34, 54…
SEAL_REASONS = ("医疗纠纷，患方申请封存", "医疗事故技术鉴定", "公安机关调查取证")
CHANGED = (10, 16)  # a version collected after archiving
BORROWED = 2  # archived records of other departments lent to the demo clinician
BORROW_FLOW = "演示：医务处审批借阅"


@dataclass(frozen=True)
class Plan:
    status: str
    sealed: str = ""  # the seal's reason
    legal_hold: bool = False
    changed: bool = False


def plan(position: int) -> Plan:
    """What the record at ``position`` (in 病案号, 住院次数 order) becomes."""
    status = "recalled" if position == RECALLED else BY_POSITION.get(position % 10, "archived")
    if status != "archived":
        return Plan(status)
    sealed = SEAL_REASONS[position // SEALED_EVERY % len(SEAL_REASONS)] if position % SEALED_EVERY == 14 else ""
    return Plan(status, sealed, position == LEGAL_HOLD, position in CHANGED)


def settle(pipe, source_id: int, demos: list[DemoRecord]) -> None:
    """Bring freshly loaded demo records (still 采集中) to their planned states."""
    keys = sorted((demo.record_number, demo.stay) for demo in demos)
    by_key = {(demo.record_number, demo.stay): demo for demo in demos}
    changed: list[DemoRecord] = []
    with pipe.tx() as session:
        records = _records(session, keys)
        for position, record in enumerate(records):
            if record.status not in FRESH:
                continue  # moved already (a second load) or by someone
            wanted = plan(position)
            _bring(session, record, wanted)
            if wanted.changed:
                changed.append(by_key[(record.record_number, record.stay_number)])
        lend(session, records)
    _collect_after_archiving(pipe, source_id, changed)


def _records(session: Session, keys: list[tuple[str, int]]) -> list[Record]:
    numbers = sorted({number for number, _ in keys})
    found = session.scalars(sa.select(Record).where(Record.record_number.in_(numbers),
                                                    Record.visit_type == "inpatient"))
    wanted = set(keys)
    return sorted((r for r in found if (r.record_number, r.stay_number) in wanted),
                  key=lambda r: (r.record_number, r.stay_number))


def _bring(session: Session, record: Record, wanted: Plan) -> None:
    path = PATHS[wanted.status]
    for status in path[path.index(record.status) + 1 if record.status in path else 0:]:
        lifecycle.move(session, DEMO, record, status, _why(status))
    if wanted.sealed:
        lifecycle.seal(session, DEMO, record, wanted.sealed)
    if wanted.legal_hold:
        lifecycle.place_legal_hold(session, DEMO, record, "患方提起诉讼，法院要求保全病历")


def _why(status: str) -> str:
    return {"returned": "首页主要诊断编码与出院记录不一致，请修改", "recalled": "补充术后病理结果"}.get(status, "")


def lend(session: Session, records: list[Record]) -> None:
    """Borrowing through the approval engine: the demo clinician applies, each step's approver
    approves, and the borrowing kind's grant appears on approval. Skipped without the demo
    accounts (``bingan ingest demo`` loads records only) or once lent."""
    clinician = session.scalars(sa.select(User).where(User.username == "clinician")).first()
    if clinician is None or _lent(session, clinician):
        return
    workflows.install()  # the demo loads in its own process, which the web app's start-up did not set up
    _borrow_flow(session)
    others = [r for r in records[CLEAR:] if r.status == "archived" and not r.sealed and not r.legal_hold
              and r.discharge_department is not None and r.discharge_department.code != CLINICAL_DEPARTMENT]
    for record in others[:BORROWED]:
        request = engine.submit(session, Actor.of(clinician), clinician, "borrow", record,
                                "疑难病例讨论，需参阅该患者既往住院资料", {"days": 7})
        while request.status == "pending":
            task = session.scalars(sa.select(ApprovalTask).where(ApprovalTask.request_id == request.id,
                                                                 ApprovalTask.done_at.is_(None))
                                   .order_by(ApprovalTask.id)).first()
            approver = session.get(User, task.user_id)
            engine.decide(session, Actor.of(approver), approver, request.id, "approve", "同意借阅，请按期归还")


def _lent(session: Session, clinician: User) -> bool:
    return session.scalar(sa.select(ApprovalRequest.id).where(
        ApprovalRequest.applicant_id == clinician.id, ApprovalRequest.kind == "borrow").limit(1)) is not None


def _borrow_flow(session: Session) -> None:
    """The shipped borrowing flow asks the head of the record's department first; the demo
    hospital has no department head account, so its borrowing goes to 医务处 alone."""
    if session.scalar(sa.select(ApprovalFlow.id).where(ApprovalFlow.kind == "borrow").limit(1)) is None:
        session.add(ApprovalFlow(kind="borrow", name=BORROW_FLOW, position=1, match={}, steps=[
            {"name": "医务处审批", "mode": "any", "approvers": [{"kind": "role", "value": "medical_affairs"}],
             "hours": 24, "escalate_to": ""}]))
        session.flush()


def _collect_after_archiving(pipe, source_id: int, changed: list[DemoRecord]) -> None:
    """A corrected discharge summary collected after archiving: the pipeline holds it as a
    pending change (records/changes.py) instead of replacing the archived version."""
    from bingan.ingest.demo_load import _load_record
    from bingan.ingest.pipeline import run_until_settled

    items = []
    for demo in changed:
        summary = next(doc for code in ("C1401", "C0301") for doc in demo.documents if doc.type_code == code)
        pages = [[*page] for page in summary.pages]
        pages[-1].append(f"（归档后补充：{demo.team.attending}补记出院带药及复诊时间）")
        items += _load_record(pipe, source_id, demo, [replace(summary, pages=pages, revision=9)])
    if items:
        run_until_settled(pipe, items, timeout=600)
