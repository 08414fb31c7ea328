"""Online copy applications (网上复印申请, J1/J10): the hospital's patient app applies through the
JSON API with its API token (access/api_tokens.py: a service user holding ``copy.online``), the
record room reviews (approve → the window's flow from registration on; reject with a reason),
the app reports the online payment, the same copy job makes the same certified PDF, and the
patient downloads it through a link that expires and counts its downloads.

Same rules as the window: the request is made by ``service.create_request`` (sealed refused,
unarchived only with stage copying, art. 19 for outside applicants, the fee), then held as
``pending_review``. The patient identifies the record by its number, the patient's name and ID
number: a mismatch of any of them gets the same answer, so the API tells nothing about records
the caller cannot name in full. Like share links, only the download token's SHA-256 is kept.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.access.policy import aware
from bingan.access.sessions import token_id
from bingan.errors import Conflict, NotFound, Refusal
from bingan.records.release import rules, service
from bingan.storage.blobs.port import BlobStore
from bingan.storage.models import Patient, Record, User, utcnow
from bingan.storage.models.identity import InvalidIdNumber, normalise_id_number
from bingan.storage.models.jobs import Job
from bingan.storage.models.release import CopyRequest

DOWNLOAD_PATH = "/copy-download/"
MAX_DOWNLOADS = 5  # the link works for service.ONLINE_DOWNLOAD_DAYS from printing
MAX_PAPERS = 6
MAX_TOKEN = 100
NOT_FOUND = "未找到与所填患者信息相符的病案，请核对病案号、患者姓名和身份证号"


@dataclass(frozen=True)
class OnlineForm:
    """What the patient app sends: the applicant, the record (number, stay, the patient's name
    and ID number), a package, copies, purpose; papers as (code, media type, bytes)."""

    applicant: service.Applicant
    record_number: str
    patient_name: str
    patient_id_number: str
    package: str
    stay_number: int | None = None
    copies: int | None = None
    purpose: str = ""
    papers: list[tuple[str, str, bytes]] = field(default_factory=list)


class DownloadRefused(Refusal):
    """The download link cannot be used (not yet printed, expired, used up, refunded): 410."""

    status = 410


def apply(session: Session, actor: Actor, user: User, blobs: BlobStore, form: OnlineForm) -> tuple[CopyRequest, str]:
    """The online application, held for review, and its download token (given this once)."""
    record = find_record(session, form)
    if len(form.papers) > MAX_PAPERS:
        raise Refusal(f"申请材料最多 {MAX_PAPERS} 份")
    request = service.create_request(session, actor, user, [record], service.CopyForm(
        applicant=form.applicant, record_ids=[record.id], package=form.package, copies=form.copies,
        purpose=form.purpose))
    token = secrets.token_urlsafe(32)
    request.status, request.channel = "pending_review", "online"
    request.download_hash, request.download_max_views = token_id(token), MAX_DOWNLOADS
    for code, media_type, data in form.papers:
        service.add_paper(session, actor, user, blobs, request, code, data, media_type)
    record_event(session, actor, "copy.online_apply", object_type="copy_request", object_id=request.id,
                 record_id=record.id, detail={"申请人": request.applicant_name, "金额": rules.yuan(request.fee_fen)})
    return request, token


def find_record(session: Session, form: OnlineForm) -> Record:
    try:
        id_number = normalise_id_number(form.patient_id_number or "")
    except InvalidIdNumber as exc:
        raise Refusal(f"患者{exc}") from exc
    query = (sa.select(Record).join(Patient, Patient.id == Record.patient_id)
             .where(Record.record_number == (form.record_number or "").strip(),
                    Patient.name == (form.patient_name or "").strip(), Patient.id_number == id_number))
    if form.stay_number is not None:
        query = query.where(Record.stay_number == form.stay_number)
    found = session.scalars(query.order_by(Record.discharged_at.desc(), Record.id.desc()).limit(2)).all()
    if not found:
        raise NotFound(NOT_FOUND)
    if len(found) > 1:
        raise Refusal("该病案号有多次住院，请填写住院次数（stay_number）")
    return found[0]


# --- the record room's review ------------------------------------------------------------------

def pending(session: Session, limit: int = 200) -> list[CopyRequest]:
    return list(session.scalars(sa.select(CopyRequest).where(CopyRequest.status == "pending_review")
                                .order_by(CopyRequest.id).limit(limit)))


def pending_count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(CopyRequest)
                          .where(CopyRequest.status == "pending_review")) or 0


def approve(session: Session, actor: Actor, user: User, request: CopyRequest) -> Job | None:
    """审核通过: the request goes on as at the window — awaiting payment, or (free) straight to
    the copy job. The record is checked again: it may have been sealed since the application."""
    _reviewable(request)
    _review(request, user, "")
    request.status = "registered"
    record_event(session, actor, "copy.online_approve", object_type="copy_request", object_id=request.id)
    if request.fee_fen == 0:
        return service.start_print(session, actor, user, request)
    return None


def reject(session: Session, actor: Actor, user: User, request: CopyRequest, reason: str) -> CopyRequest:
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise Refusal("请填写驳回原因（不超过500字），患者将在应用中看到")
    _reviewable(request)
    _review(request, user, reason)
    request.status = "rejected"
    record_event(session, actor, "copy.online_reject", object_type="copy_request", object_id=request.id,
                 detail={"原因": reason})
    return request


def _reviewable(request: CopyRequest) -> None:
    if request.channel != "online":
        raise Conflict("该申请不是网上申请，无需审核")
    if request.status != "pending_review":
        raise Conflict(f"该申请{service.STATUS_NAMES[request.status]}，不能再审核")


def _review(request: CopyRequest, user: User, reason: str) -> None:
    request.reviewed_at, request.reviewed_by_id, request.review_reason = utcnow(), user.id, reason


# --- the patient app: its own requests, payment ------------------------------------------------

def own_request(session: Session, user: User, request_id: int) -> CopyRequest:
    """An online request made through this token (another caller's is "not found")."""
    request = session.get(CopyRequest, request_id)
    if request is None or request.channel != "online" or request.created_by_id != user.id:
        raise NotFound("网上复印申请不存在")
    return request


def pay(session: Session, actor: Actor, user: User, request: CopyRequest, reference: str) -> Job:
    """The app's online payment (its transaction reference), then the copy job at once."""
    if request.status == "pending_review":
        raise Conflict("申请尚在审核中，审核通过后再缴费")
    service.pay(session, actor, user, request, "online", reference)
    return service.start_print(session, actor, user, request)


def as_json(session: Session, request: CopyRequest) -> dict:
    """What the patient app sees: status, the fee and its lines, what is copied, why rejected,
    and whether the copy can be downloaded (its link was given when applying)."""
    view = service.as_json(session, request)
    return {key: view[key] for key in ("id", "status", "status_name", "applicant", "record_ids", "copies", "pages",
                                       "stage", "fee", "fee_yuan", "fee_fen", "fee_lines", "documents",
                                       "missing_papers", "payment", "refund", "created_at", "printed_at")} | {
        "channel": request.channel, "review_reason": request.review_reason,
        "download": {"ready": request.status == "printed", "expires_at": _iso(request.download_expires_at),
                     "views": request.download_views, "max_views": request.download_max_views}}


def _iso(moment: datetime | None) -> str | None:
    return clock.iso(moment) if moment else None


# --- the patient's download --------------------------------------------------------------------

def download(session: Session, token: str, client_ip: str, now: datetime | None = None) -> tuple[CopyRequest, Job]:
    """One download of the certified copy: counted (atomically) and audited; refused (410, in
    Chinese, audited) before printing, after its date, once used up, or after a refund."""
    now = now or utcnow()
    request = session.scalars(sa.select(CopyRequest).where(CopyRequest.download_hash == token_id(token))).first() \
        if 0 < len(token) <= MAX_TOKEN else None
    if request is None:
        raise NotFound("下载链接无效，请在医院应用中重新查看")
    actor = Actor(None, f"online:{request.id}", client_ip)
    job = session.get(Job, request.job_id) if request.job_id else None
    reason = _refusal(request, job, now)
    if reason is None and not _count(session, request):
        reason = f"下载次数已用完（共 {request.download_max_views} 次），请联系病案室"
    if reason:
        record_event(session, actor, "copy.online_refused", object_type="copy_request", object_id=request.id,
                     result="denied", detail={"原因": reason})
        raise DownloadRefused(reason)
    record_event(session, actor, "copy.online_download", object_type="copy_request", object_id=request.id,
                 record_id=request.record_ids[0] if request.record_ids else None,
                 detail={"第几次": request.download_views, "可下载次数": request.download_max_views})
    return request, job  # type: ignore[return-value]


def _refusal(request: CopyRequest, job: Job | None, now: datetime) -> str | None:
    if request.status == "refunded":
        return "该申请已退费，复印件不再提供下载"
    if request.status != "printed" or job is None or not job.result_sha256:
        return "复印件尚未生成，请在审核通过并缴费后稍候再试"
    if request.download_expires_at is None or aware(request.download_expires_at) <= now:
        return "下载链接已过期，请联系病案室"
    return None


def _count(session: Session, request: CopyRequest) -> bool:
    counted = session.execute(sa.update(CopyRequest).where(
        CopyRequest.id == request.id, CopyRequest.download_views < CopyRequest.download_max_views)
        .values(download_views=CopyRequest.download_views + 1)
        .execution_options(synchronize_session=False)).rowcount
    session.refresh(request)
    return counted == 1
