"""Recall (召回) in the demo record room, through the real workflow: one of the demo clinician's
archived records recalled for correction (approved by the department head and the record room:
its 召回前版本 pinned, a re-collection request open), and another one printed at the copy window
for the patient with its recall application waiting for the head — the "already printed" warning
in sight. Deterministic: the first suitable archived records of the clinician's ward."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.ingest.demo.accounts import CLINICAL_DEPARTMENT
from bingan.ingest.demo.approving import approve_through
from bingan.records.recall import service
from bingan.storage.models import ApprovalRequest, Document, Record, User


def recall_some(session: Session, records: list[Record]) -> None:
    """``records``: archived candidates in the order to take them. Skipped without the demo
    accounts or once done (a second load)."""
    users = {u.username: u for u in session.scalars(sa.select(User).where(
        User.username.in_(["clinician", "copyclerk"])))}
    if len(users) < 2 or _done(session, users["clinician"]):
        return
    ward = [r for r in records if r.status == "archived" and not r.sealed and not r.legal_hold
            and r.confidentiality == 0 and r.discharge_department is not None
            and r.discharge_department.code == CLINICAL_DEPARTMENT]
    clinician = users["clinician"]
    if ward:
        request = service.apply(session, Actor.of(clinician), clinician, ward[0],
                                "出院诊断漏填2型糖尿病，需补充修改", 7)
        approve_through(session, request, "同意召回，请按期修改重新提交")
    if len(ward) > 1:
        _printed(session, users["copyclerk"], ward[1])
        service.apply(session, Actor.of(clinician), clinician, ward[1], "出院记录缺复诊时间及出院带药，需补充", 3)


def _done(session: Session, clinician: User) -> bool:
    return session.scalar(sa.select(ApprovalRequest.id).where(
        ApprovalRequest.applicant_id == clinician.id, ApprovalRequest.kind == "recall").limit(1)) is not None


def _printed(session: Session, clerk: User, record: Record) -> None:
    """The copy window printed the record's first document for the patient (an audit event, as printing writes)."""
    document = session.scalars(sa.select(Document).where(Document.record_id == record.id)
                               .order_by(Document.id).limit(1)).first()
    record_event(session, Actor.of(clerk), "print", object_type="document", record_id=record.id,
                 document_id=document.id if document else None, detail={"为谁": "患者本人（复印）", "页码": "全部"})
