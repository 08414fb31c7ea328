"""The demo record room at work: records in every life-cycle state, holds, pending changes, loans,
QC comments and returns, self-checks, marks and recalls.

Run at the end of the demo load, through the real service functions — submission and its
self-checks (records/completeness), archive QC (records/qc), the approval engine for borrowing
and recall, the collection pipeline for a version arriving after archiving — never by writing
columns. The plan depends on the records' order (病案号, 住院次数) and on who treated them, so the
same seed gives the same states; records already moved (a second load) are left as they are.

Most records end archived (归档) through QC pass, as in a real archive; by position in each ten:
待提交, 待质控, 质控中 (two unsent comments), 已退回 (a medical comment to the doctors and head of
department) once each; in each twenty one 待质控 record returned once and resubmitted (返修过), one
待提交 record with its pathology report marked missing, one record in QC marked special (教学病例),
one archived record whose missing item the record room collected later (补收); the demo
clinician's first own patient is returned to him (退回给我的病案). One record in twenty sealed
(封存), one under legal hold (法律保全); two archived records get a later version of their
discharge summary (or first course record) as a pending change (待审核变更); two archived records
of other departments are lent to the demo clinician (借阅: 科主任, then 医务处); one record of his
ward is recalled (召回中) and another waits for the recall's approval, printed before (recalls.py).
Without the demo accounts (``bingan ingest demo``) records only take their life-cycle states.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor
from bingan.ingest.demo import archiving
from bingan.ingest.demo import scoring as demo_scoring
from bingan.ingest.demo import sealing as demo_sealing
from bingan.ingest.demo.accounts import CLINICAL_DEPARTMENT
from bingan.ingest.demo.approving import approve_through
from bingan.ingest.demo.archiving import People
from bingan.ingest.demo.hospital import DemoRecord
from bingan.ingest.demo.recalls import recall_some
from bingan.records import lifecycle, workflows
from bingan.records.approvals import engine
from bingan.storage.models import ApprovalRequest, Record, User

DEMO = Actor(None, "演示数据")
PATHS = {
    "awaiting": ("awaiting",),
    "submitted": ("awaiting", "submitted"),
    "qc": ("awaiting", "submitted", "qc"),
    "returned": ("awaiting", "submitted", "qc", "returned"),
    "archived": ("awaiting", "submitted", "qc", "archived"),
}
# 采集中, or 待提交 when the worker's tick closed the collection while the demo was loading.
FRESH = ("collecting", "awaiting")
BY_POSITION = {1: "awaiting", 3: "submitted", 5: "qc", 7: "returned"}  # in each ten; the rest archived
# Holds, changes, loans and recalls stay clear of the first ten records where they can: the
# showcase patients the README and the first-hour walk lead to (hospital.SHOWCASE) stay readable.
CLEAR = 10  # positions before this one get a plain state only
LEGAL_HOLD = 18
SEALED_EVERY = 20  # positions 14, 34, 54…
SEAL_REASONS = ("医疗纠纷，患方申请封存", "医疗事故技术鉴定", "公安机关调查取证")
CHANGED = (10, 16)  # a version collected after archiving
BORROWED = 2  # archived records of other departments lent to the demo clinician
# In each twenty: the mark a record gets (缺项 on a 待提交 record, 特殊 on one in QC, 补收 after archiving).
MARKS = {1: "missing", 15: "special", 19: "collected"}
REWORKED = 13  # in each twenty: returned once, answered and resubmitted


@dataclass(frozen=True)
class Plan:
    status: str
    sealed: str = ""  # the seal's reason
    legal_hold: bool = False
    changed: bool = False
    reworked: bool = False
    mark: str = ""


def plan(position: int, own: bool = False) -> Plan:
    """What the record at ``position`` (in 病案号, 住院次数 order) becomes; ``own``: the demo
    clinician's first own patient, returned to him instead of archived."""
    status = BY_POSITION.get(position % 10, "archived")
    mark = MARKS.get(position % 20, "")
    if status != "archived":
        return Plan(status, reworked=position % 20 == REWORKED, mark=mark)
    if own:
        return Plan("returned")
    sealed = SEAL_REASONS[position // SEALED_EVERY % len(SEAL_REASONS)] if position % SEALED_EVERY == 14 else ""
    return Plan(status, sealed, position == LEGAL_HOLD, position in CHANGED, mark=mark)


def settle(pipe, source_id: int, demos: list[DemoRecord]) -> None:
    """Bring freshly loaded demo records (still 采集中) to their planned states."""
    keys = sorted((demo.record_number, demo.stay) for demo in demos)
    by_key = {(demo.record_number, demo.stay): demo for demo in demos}
    changed: list[DemoRecord] = []
    with pipe.tx() as session:
        records = _records(session, keys)
        people = People.load(session)
        if people is not None:
            workflows.install()  # the demo loads in its own process, which the web app's start-up did not set up
        own = _own_patient(session, records)
        for position, record in enumerate(records):
            if record.status not in FRESH:
                continue  # moved already (a second load) or by someone
            wanted = plan(position, record.id == own)
            _bring(session, people, record, wanted)
            if wanted.changed:
                changed.append(by_key[(record.record_number, record.stay_number)])
        lend(session, records)
        recall_some(session, _recall_candidates(records))
        demo_scoring.sample(session, people, records)
    _collect_after_archiving(pipe, source_id, changed)


def _records(session: Session, keys: list[tuple[str, int]]) -> list[Record]:
    numbers = sorted({number for number, _ in keys})
    found = session.scalars(sa.select(Record).where(Record.record_number.in_(numbers),
                                                    Record.visit_type == "inpatient"))
    wanted = set(keys)
    return sorted((r for r in found if (r.record_number, r.stay_number) in wanted),
                  key=lambda r: (r.record_number, r.stay_number))


def _own_patient(session: Session, records: list[Record]) -> int | None:
    """The first record the demo clinician attended that the plan would simply archive."""
    clinician = session.scalars(sa.select(User).where(User.username == "clinician")).first()
    if clinician is None:
        return None
    return next((r.id for position, r in enumerate(records)
                 if r.attending_doctor == clinician.full_name and plan(position) == Plan("archived")), None)


def _recall_candidates(records: list[Record]) -> list[Record]:
    """Archived records without a pending change, past the showcase ones first."""
    plain = [(position, r) for position, r in enumerate(records) if not plan(position).changed]
    return [r for _position, r in sorted(plain, key=lambda pair: pair[0] < CLEAR)]


def _bring(session: Session, people: People | None, record: Record, wanted: Plan) -> None:
    if people is None:
        _moved(session, record, wanted.status)
    else:
        _worked(session, people, record, wanted)
    if wanted.sealed:
        demo_sealing.seal(session, DEMO, record, wanted.sealed)
    if wanted.legal_hold:
        lifecycle.place_legal_hold(session, DEMO, record, "患方提起诉讼，法院要求保全病历")


def _moved(session: Session, record: Record, status: str) -> None:
    """Records only: the life cycle's moves, no one to submit, review or approve."""
    path = PATHS[status]
    for step in path[path.index(record.status) + 1 if record.status in path else 0:]:
        lifecycle.move(session, DEMO, record, step, _why(step))


def _why(status: str) -> str:
    return {"returned": "首页主要诊断编码与出院记录不一致，请修改"}.get(status, "")


STEPS: dict[str, tuple[Callable[[Session, People, Record], None], ...]] = {
    "qc": (archiving.in_qc,),
    "returned": (archiving.returned,),
    "archived": (archiving.archived,),
}


def _worked(session: Session, people: People, record: Record, wanted: Plan) -> None:
    """Through the workflow: collection closes, marks, submission with its self-checks, QC."""
    if not archiving.reviewable(session, people, record):  # 绝密: no demo reviewer may read it
        _moved(session, record, wanted.status)
        return
    archiving.collected(session, DEMO, record)
    mark = archiving.mark_collected_later(session, record) if wanted.mark == "collected" else None
    if wanted.mark == "missing":
        archiving.mark_missing(session, record)
    if wanted.mark == "special":
        archiving.mark_special(session, record)
    if wanted.status == "awaiting":
        return
    archiving.submitted(session, record)
    if record.status != "submitted":
        return  # the self-checks refused it: it stays 待提交 with its findings, as in a real room
    if wanted.reworked:
        archiving.resubmitted(session, people, record)
    for step in STEPS.get(wanted.status, ()):
        step(session, people, record)
    if mark is not None:
        archiving.close_collected(session, people, mark)


def lend(session: Session, records: list[Record]) -> None:
    """Borrowing through the approval engine and its shipped flows: the demo clinician applies,
    the record's department head and then 医务处 approve, and the borrowing kind's grant appears on
    approval. Skipped without the demo accounts (``bingan ingest demo`` loads records only) or
    once lent."""
    clinician = session.scalars(sa.select(User).where(User.username == "clinician")).first()
    if clinician is None or _lent(session, clinician):
        return
    workflows.install()
    others = [r for r in records[CLEAR:] if r.status == "archived" and not r.sealed and not r.legal_hold
              and r.confidentiality == 0 and r.discharge_department is not None
              and r.discharge_department.code != CLINICAL_DEPARTMENT]
    for record in others[:BORROWED]:
        request = engine.submit(session, Actor.of(clinician), clinician, "borrow", record,
                                "疑难病例讨论，需参阅该患者既往住院资料", {"days": 7})
        approve_through(session, request, "同意借阅，请按期归还")


def _lent(session: Session, clinician: User) -> bool:
    return session.scalar(sa.select(ApprovalRequest.id).where(
        ApprovalRequest.applicant_id == clinician.id, ApprovalRequest.kind == "borrow").limit(1)) is not None


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
