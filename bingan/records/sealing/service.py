"""Sealing (封存, 2013 regulation art. 24–27): applying to seal and to unseal, the parties present,
the scope, what happens on approval, and what seal managers see.

An application is an approval request (kinds "seal" and "unseal", kind.py) plus a ``Seal`` row
holding what the request must not show to everyone it is listed to: the parties' names and ID
numbers. On the last approval, in its transaction, the record is sealed through the life cycle
and its seal package is queued for the worker (package.py builds it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.errors import Conflict, NotFound, Refusal
from bingan.records import jobs, lifecycle
from bingan.records.approvals import engine
from bingan.storage.models import ApprovalRequest, Document, Record, User, utcnow
from bingan.storage.models.identity import InvalidIdNumber, normalise_id_number
from bingan.storage.models.jobs import Job
from bingan.storage.models.sealing import Seal

# Who may stand for each side (art. 24: both parties present; a notary where the patient refuses).
PARTY_ROLES = {"patient": "患者本人", "agent": "患者代理人", "relative": "患者近亲属", "staff": "医院工作人员",
               "notary": "公证人员"}
PATIENT_SIDE = ("patient", "agent", "relative")
_ROLE_WORDS = {**{name: code for code, name in PARTY_ROLES.items()},
               "患者": "patient", "代理人": "agent", "近亲属": "relative", "医方": "staff", "医务人员": "staff",
               "公证员": "notary", "hospital_staff": "staff", "hospital": "staff", "doctor": "staff"}
MAX_PARTIES = 20
MAX_TEXT = 2000
WHOLE_RECORD = ("record", "whole", "all", "全部", "整份病案", "")
STATUS_NAMES = {"applied": "申请中", "sealed": "已封存", "unsealed": "已解封", "refused": "未封存"}
PACKAGE_JOB = "seal_package"
PACKAGE_NAMES = {"pending": "待生成", "building": "生成中", "ready": "已生成", "failed": "生成失败"}


@dataclass(frozen=True)
class SealForm:
    reason: str
    parties: object  # a list of parties, or {role: party or [parties]}
    scope: object = "record"  # "record", or the chosen documents: [ids] / {"document_ids": [ids]}
    dispute: str = ""
    document_ids: list[int] | None = None


# --- applying ----------------------------------------------------------------------------------

def apply_seal(session: Session, actor: Actor, applicant: User, record: Record, form: SealForm) -> Seal:
    """封存申请: checked in full before anything is written (bad input changes nothing)."""
    reason = _text(form.reason, "封存原因", required=True)
    dispute = _text(form.dispute, "纠纷情况")
    parties = parse_parties(form.parties, applicant)
    _require_both_sides(parties)
    documents = parse_scope(session, record, form.scope, form.document_ids)
    if record.sealed:
        raise Conflict("病案已封存，不能再申请封存")
    request = engine.submit(session, actor, applicant, "seal", record, reason, {"scope": _scope_words(documents)})
    seal = Seal(record_id=record.id, request_id=request.id, reason=reason, dispute=dispute, parties=parties,
                document_ids=documents, applied_by_id=applicant.id, status="applied")
    session.add(seal)
    session.flush()
    request.payload = {**request.payload, "seal_id": seal.id}
    return seal


def apply_unseal(session: Session, actor: Actor, applicant: User, record: Record, reason: str,
                 parties: object = None) -> Seal:
    """解封申请: the dispute ended, all signers agree, or three years passed without a claim."""
    reason = _text(reason, "解封原因", required=True)
    signers = parse_parties(parties or [], applicant)
    seal = current_seal(session, record)
    if seal is None:
        raise Conflict("病案未封存，不能申请解封")
    if seal.unseal_request_id and seal.unseal_request_id in _open_request_ids(session, record):
        raise Conflict(f"该病案已有未完成的解封申请（编号 {seal.unseal_request_id}）")
    request = engine.submit(session, actor, applicant, "unseal", record, reason, {"seal_id": seal.id})
    seal.unseal_request_id, seal.unseal_reason, seal.unseal_parties = request.id, reason, signers
    return seal


def parse_parties(raw: object, applicant: User) -> list[dict]:
    """The parties present, each checked (GB 11643 for the patient side's ID numbers); the
    applicant stands for the hospital when no hospital staff is named."""
    items = _party_items(raw)
    if len(items) > MAX_PARTIES:
        raise Refusal(f"在场人员最多 {MAX_PARTIES} 位")
    parties = [_party(number, item) for number, item in enumerate(items, start=1)]
    if not any(party["role"] == "staff" for party in parties):
        parties.append({"role": "staff", "role_name": PARTY_ROLES["staff"],
                        "name": applicant.full_name or applicant.username, "id_number": "",
                        "organisation": applicant.staff_number or "", "relation": ""})
    return parties


def _party_items(raw: object) -> list[dict]:
    if isinstance(raw, dict):
        return [{**item, "role": item.get("role", role)} for role, value in raw.items()
                for item in (value if isinstance(value, list) else [value]) if isinstance(item, dict)]
    if isinstance(raw, list) and all(isinstance(item, dict) for item in raw):
        return list(raw)
    raise Refusal("在场人员格式不正确：应为人员列表，每位含身份（role）、姓名（name）与身份证号（id_number）")


def _field(item: dict, *names: str) -> str:
    """The first of ``names`` the party gives (integrators name the role "type", the ID "id_card"…)."""
    return next((str(item[name]).strip() for name in names if item.get(name) not in (None, "")), "")


def _party(number: int, item: dict) -> dict:
    given = _field(item, "role", "type", "identity")
    role = _ROLE_WORDS.get(given, given)
    if role not in PARTY_ROLES:
        raise Refusal(f"第{number}位在场人员的身份应为：{'、'.join(PARTY_ROLES.values())}")
    name = _field(item, "name")
    if not name or len(name) > 50:
        raise Refusal(f"请填写第{number}位在场人员（{PARTY_ROLES[role]}）的姓名（不超过50字）")
    id_number = _field(item, "id_number", "id_card", "idcard", "id_no")
    if role in PATIENT_SIDE or id_number:
        if not id_number:
            raise Refusal(f"请填写{PARTY_ROLES[role]}“{name}”的身份证号码")
        try:
            id_number = normalise_id_number(id_number)
        except InvalidIdNumber as exc:
            raise Refusal(f"{PARTY_ROLES[role]}“{name}”的{exc}") from exc
    return {"role": role, "role_name": PARTY_ROLES[role], "name": name, "id_number": id_number,
            "organisation": _field(item, "organisation", "organization", "unit")[:100],
            "relation": _field(item, "relation")[:50]}


def _require_both_sides(parties: list[dict]) -> None:
    if not any(party["role"] in (*PATIENT_SIDE, "notary") for party in parties):
        raise Refusal("封存须医患双方在场：请填写患者或其代理人（患方拒绝到场时填写公证人员）")


def parse_scope(session: Session, record: Record, scope: object,
                document_ids: list[int] | None = None) -> list[int] | None:
    """None for the whole record, else the chosen documents of this record (sorted ids)."""
    chosen = document_ids
    if isinstance(scope, list):
        chosen = scope
    elif isinstance(scope, dict):
        chosen = scope.get("document_ids") or scope.get("documents") or chosen
        if not chosen and str(scope.get("kind", "record")) in WHOLE_RECORD:
            return None
    elif scope is None or (isinstance(scope, str) and scope.strip() in WHOLE_RECORD):
        return None
    elif not isinstance(scope, str) or scope.strip() != "documents":
        raise Refusal("封存范围应为：record（整份病案）或 documents（所选文书）")
    if not chosen or not all(isinstance(i, int) and not isinstance(i, bool) for i in chosen):
        raise Refusal("请选择要封存的文书")
    found = set(session.scalars(sa.select(Document.id).where(
        Document.record_id == record.id, Document.id.in_(chosen), Document.removed.is_(False))))
    if found != set(chosen):
        raise Refusal("所选文书不属于该病案或已被撤回")
    return sorted(found)


def _scope_words(documents: list[int] | None) -> str:
    return "整份病案" if documents is None else f"所选文书 {len(documents)} 份"


def _text(value: str, what: str, *, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise Refusal(f"请填写{what}")
    if len(text) > MAX_TEXT:
        raise Refusal(f"{what}不能超过 {MAX_TEXT} 字")
    return text


def _open_request_ids(session: Session, record: Record) -> set[int]:
    return set(session.scalars(sa.select(ApprovalRequest.id).where(
        ApprovalRequest.record_id == record.id, ApprovalRequest.status.in_(("pending", "returned")))))


# --- the engine's hooks (kind.py) --------------------------------------------------------------

def seal_of_request(session: Session, request: ApprovalRequest) -> Seal:
    seal = session.scalars(sa.select(Seal).where(sa.or_(Seal.request_id == request.id,
                                                        Seal.unseal_request_id == request.id))).first()
    if seal is None:
        raise NotFound("封存记录不存在")
    return seal


def on_seal_approved(session: Session, request: ApprovalRequest, actor: Actor) -> None:
    """In the transaction of the last approval: the record is frozen as it stands and its
    package queued (the worker builds it: a 300-page record takes a while)."""
    seal = seal_of_request(session, request)
    lifecycle.seal(session, actor, request.record, seal.reason)
    seal.status, seal.sealed_at, seal.sealed_by_id = "sealed", utcnow(), actor.user_id
    start_package_job(session, actor, seal)
    record_event(session, actor, "seal.sealed", object_type="seal", object_id=seal.id, record_id=seal.record_id,
                 detail={"范围": _scope_words(seal.document_ids), "在场人员": len(seal.parties)})


def on_seal_rejected(session: Session, request: ApprovalRequest, _actor: Actor) -> None:
    seal_of_request(session, request).status = "refused"


def on_unseal_approved(session: Session, request: ApprovalRequest, actor: Actor) -> None:
    seal = seal_of_request(session, request)
    lifecycle.unseal(session, actor, request.record, seal.unseal_reason)
    seal.status, seal.unsealed_at, seal.unsealed_by_id = "unsealed", utcnow(), actor.user_id
    record_event(session, actor, "seal.unsealed", object_type="seal", object_id=seal.id, record_id=seal.record_id,
                 detail={"原因": seal.unseal_reason})


# --- queries -----------------------------------------------------------------------------------

def current_seal(session: Session, record: Record) -> Seal | None:
    return session.scalars(sa.select(Seal).where(Seal.record_id == record.id, Seal.status == "sealed")
                           .order_by(Seal.id.desc())).first()


def get_seal(session: Session, seal_id: int) -> Seal:
    seal = session.get(Seal, seal_id)
    if seal is None:
        raise NotFound("封存记录不存在")
    return seal


def sealed_documents(session: Session, seal: Seal) -> list[Document]:
    """The documents in the seal's scope that have content."""
    query = _with_content(seal.record_id)
    if seal.document_ids is not None:
        query = query.where(Document.id.in_(seal.document_ids or [-1]))
    return list(session.scalars(query))


def _with_content(record_id: int) -> sa.Select:
    return (sa.select(Document).where(Document.record_id == record_id, Document.removed.is_(False),
                                      Document.current_version_id.is_not(None)).order_by(Document.id))


def start_package_job(session: Session, actor: Actor, seal: Seal) -> None:
    """The package is built by the worker (jobs.py); its progress is the job's. Nobody owns the
    job: only seal managers (the kind's permission) follow a sealed record's work."""
    job = jobs.start(session, actor, PACKAGE_JOB, {"seal_id": seal.id}, owner=None, record_id=seal.record_id)
    seal.package_status, seal.package_job_id = "pending", job.id


def seals(session: Session, status: str = "sealed", limit: int = 500) -> list[Seal]:
    """The seal managers' list (封存登记簿), newest first; status "" is every seal."""
    if status and status not in STATUS_NAMES:
        raise Refusal("状态应为：applied（申请中）、sealed（已封存）、unsealed（已解封）或 refused（未封存）")
    query = sa.select(Seal).order_by(Seal.id.desc()).limit(limit)
    return list(session.scalars(query.where(Seal.status == status) if status else query))


def due_for_reminder(session: Session, now: datetime, years: int = 3) -> list[Seal]:
    """Seals older than ``years`` without a reminder yet (art. 27: unsealing after 3 years without a claim)."""
    cutoff = now - timedelta(days=365 * years + 1)  # a leap day at most in three years
    return list(session.scalars(sa.select(Seal).where(Seal.status == "sealed", Seal.sealed_at <= cutoff,
                                                      Seal.reminded_at.is_(None))))


def as_json(seal: Seal) -> dict:
    """A seal as seal managers see it (the parties' ID numbers masked: the full ones are on the
    printed seal list)."""
    return {
        "id": seal.id, "record_id": seal.record_id, "status": seal.status, "status_name": STATUS_NAMES[seal.status],
        "request_id": seal.request_id, "unseal_request_id": seal.unseal_request_id,
        "reason": seal.reason, "dispute": seal.dispute, "scope": "record" if seal.document_ids is None else "documents",
        "document_ids": seal.document_ids, "parties": [{**party, "id_number": mask_id(party["id_number"])}
                                                        for party in seal.parties],
        "applied_at": seal.applied_at.isoformat(), "sealed_at": seal.sealed_at.isoformat() if seal.sealed_at else None,
        "unsealed_at": seal.unsealed_at.isoformat() if seal.unsealed_at else None,
        "package": {"status": seal.package_status, "status_name": PACKAGE_NAMES[seal.package_status],
                    "job_id": seal.package_job_id, "sha256": seal.package_sha256 or None, "size": seal.package_size,
                    "built_at": seal.package_built_at.isoformat() if seal.package_built_at else None},
    }


def mask_id(number: str) -> str:
    return f"{number[:6]}********{number[-4:]}" if len(number) == 18 else number


def seal_for_record(session: Session, record: Record) -> Seal:
    """The record's current seal, for the seal managers' routes on a sealed record."""
    seal = current_seal(session, record)
    if seal is None:
        raise NotFound("该病案没有生效的封存")
    return seal


def restart_package(session: Session, actor: Actor, seal: Seal) -> None:
    if seal.status != "sealed":
        raise Conflict("病案未处于封存状态，不能生成封存件")
    job = session.get(Job, seal.package_job_id) if seal.package_job_id else None
    if seal.package_status == "ready" or (job is not None and job.state in ("queued", "running")):
        raise Conflict("封存件已生成或正在生成")
    start_package_job(session, actor, seal)


def current_documents(session: Session, record: Record) -> list[Document]:
    """The record's documents with content, for choosing the scope."""
    return list(session.scalars(_with_content(record.id)))
