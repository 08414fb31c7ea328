"""The self-service copy kiosk (自助复印打印机, issue 15 item 4): a patient reads their ID card (or
types the number and name), sees their own records only, chooses a package and copies, pays with
the kiosk's card or QR terminal and takes the certified copy from the kiosk's printer.

The same requests, rules, fee and copy job as the window (service.py): the applicant is always
the patient themself (applicant type ``patient``), the record's patient must carry the visitor's
ID number and name, a sealed record is never copied and an unarchived one only with stage copying.
The kiosk adds two limits of its own, because no clerk stands beside it: it takes no cash, and a
record with an HIV-related diagnosis or tag is sent to the window, where a clerk verifies who asks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor
from bingan.errors import NotFound, Refusal
from bingan.records.release import rules, service
from bingan.storage.models import Patient, Record, User
from bingan.storage.models.identity import InvalidIdNumber, normalise_id_number
from bingan.storage.models.jobs import Job
from bingan.storage.models.release import CopyRequest

CHANNEL = "kiosk"
APPLICANT = "patient"  # 患者本人: the only applicant the kiosk serves
PAYMENT_METHODS = {"card": "银行卡", "online": "扫码支付"}  # the kiosk's terminal; no cash
MAX_LISTED = 50
MAX_COPIES = 5  # more than five copies is a matter for the window
PURPOSE = "自助复印"
NOT_FOUND = "未找到您在本院的病案，请核对姓名和身份证号，或到病案复印窗口咨询"
SEALED = "病案已封存，一律不予复印"
UNARCHIVED = "尚未归档，不予复印（本院未开放阶段复印，2013 规定第二十一条：病历尚未完成的，待完成后复印）"
TO_WINDOW = "该病案需由工作人员核实身份，请持身份证到病案复印窗口办理"


@dataclass(frozen=True)
class Visitor:
    """The patient at the kiosk: the card's (or typed) ID number and name, and what the card gave."""

    id_number: str
    name: str
    card: dict = field(default_factory=dict)  # the reader's fields, photo excluded; {} when typed

    @property
    def masked(self) -> str:
        return service.mask_id(self.id_number)


@dataclass(frozen=True)
class OwnRecord:
    record: Record
    reason: str  # why the kiosk will not copy it; "" when it will
    stage: bool  # copied as 阶段复印


def identify(session: Session, id_number: str, name: str, card: dict | None = None) -> Visitor:
    """The visitor, if the hospital holds a record of a patient with exactly this number and name."""
    try:
        number = normalise_id_number(id_number or "")
    except InvalidIdNumber as exc:
        raise Refusal(str(exc)) from exc
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise Refusal("请填写姓名（与身份证一致）")
    if not session.scalars(_patients(number, name).limit(1)).first():
        raise NotFound(NOT_FOUND)
    return Visitor(number, name, {key: str(value)[:100] for key, value in (card or {}).items()})


def _patients(id_number: str, name: str) -> sa.Select:
    return sa.select(Patient.id).where(Patient.id_number == id_number, Patient.name == name)


def own_records(session: Session, visitor: Visitor) -> list[OwnRecord]:
    """The visitor's records, newest first, each with the reason the kiosk refuses it (if any)."""
    copy_rules = rules.copy_rules(session)
    found = session.scalars(sa.select(Record).where(Record.patient_id.in_(_patients(visitor.id_number, visitor.name)))
                            .order_by(Record.discharged_at.desc(), Record.id.desc()).limit(MAX_LISTED)).all()
    return [OwnRecord(record, refusal(record, copy_rules), record.status != "archived") for record in found]


def refusal(record: Record, copy_rules: rules.CopyRules) -> str:
    """The window's rules (sealed never, unarchived only with stage copying), then the kiosk's own."""
    if record.sealed:
        return SEALED
    if record.status != "archived" and not copy_rules.stage_copying:
        return UNARCHIVED
    if _needs_a_clerk(record):
        return TO_WINDOW
    return ""


def _needs_a_clerk(record: Record) -> bool:
    return any(d.code.upper().startswith(service.HIV_CODES) for d in record.diagnoses) or any(
        word in tag.name.upper() for tag in record.tags for word in service.HIV_TAG_WORDS)


def own_record(session: Session, visitor: Visitor, record_id: int) -> Record:
    """One of the visitor's records; another patient's is "not found", as one that does not exist."""
    record = session.get(Record, record_id)
    if record is None or record.patient.id_number != visitor.id_number or record.patient.name != visitor.name:
        raise NotFound("病案不存在")
    return record


def choosable_packages(session: Session) -> list[dict]:
    """The hospital's packages as the patient may have them: each with the categories it gives a
    patient (art. 19 for an outside applicant type); a package that would give nothing is left out."""
    kind = rules.applicant_type(session, APPLICANT)
    names = rules.category_names(session)
    copyable = rules.copyable_categories(session) if kind.outside else set(names)
    chosen = []
    for package in rules.packages(session):
        given = [code for code in (package.categories or list(names)) if code in copyable and code in names]
        if given:
            chosen.append({"code": package.code, "name": package.name, "copies": package.copies,
                           "categories": [names[code] for code in given]})
    return chosen


def apply(session: Session, actor: Actor, user: User, visitor: Visitor, record: Record, package: str,
          copies: int) -> CopyRequest:
    """The kiosk's request through the window's ``create_request``; a free one goes to print at once."""
    reason = refusal(record, rules.copy_rules(session))
    if reason:
        raise Refusal(reason)
    if package not in {choice["code"] for choice in choosable_packages(session)}:
        raise Refusal("请选择复印套餐")
    if not 1 <= copies <= MAX_COPIES:
        raise Refusal(f"自助复印份数应为 1 至 {MAX_COPIES}，更多份数请到病案复印窗口办理")
    request = service.create_request(session, actor, user, [record], service.CopyForm(
        applicant=service.Applicant(APPLICANT, visitor.name, visitor.id_number, card=visitor.card),
        record_ids=[record.id], package=package, copies=copies, purpose=PURPOSE))
    request.channel = CHANNEL
    if request.fee_fen == 0:
        service.start_print(session, actor, user, request)
    return request


def own_request(session: Session, user: User, visitor: Visitor, request_id: int) -> CopyRequest:
    """A request this kiosk made for this visitor; any other is "not found"."""
    request = session.get(CopyRequest, request_id)
    if (request is None or request.channel != CHANNEL or request.created_by_id != user.id
            or request.applicant_id_number != visitor.id_number):
        raise NotFound("复印申请不存在")
    return request


def pay(session: Session, actor: Actor, user: User, request: CopyRequest, method: str, reference: str) -> Job:
    """The payment terminal's transaction (its reference typed or scanned), then the copy job."""
    if method not in PAYMENT_METHODS:
        raise Refusal("自助机只能刷银行卡或扫码支付；现金请到病案复印窗口缴纳")
    service.pay(session, actor, user, request, method, reference)
    return service.start_print(session, actor, user, request)


def visitor_job(session: Session, visitor_id_number: str, job_id: int) -> bool:
    """Whether this job makes a kiosk copy for this visitor (the kiosk may follow only those)."""
    return session.scalar(sa.select(sa.func.count()).select_from(CopyRequest).where(
        CopyRequest.job_id == job_id, CopyRequest.channel == CHANNEL,
        CopyRequest.applicant_id_number == visitor_id_number)) == 1
