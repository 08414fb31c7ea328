"""What people see of requests: the boxes (待办 / 我的申请 / 已办), one request with its step chain
and every opinion, the to-do count, and attachments (stored encrypted in the blob store)."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.errors import NotFound, Refusal
from bingan.records.approvals.engine import STATUS_NAMES
from bingan.records.approvals.flows import MODE_NAMES
from bingan.records.approvals.kinds import kind_name
from bingan.storage.blobs.port import BlobStore, Placement
from bingan.storage.models import (
    ApprovalAction,
    ApprovalAttachment,
    ApprovalRequest,
    ApprovalTask,
    Record,
    User,
    utcnow,
)

BOXES = {"todo": "待办", "mine": "我的申请", "done": "已办"}
ACTION_NAMES = {"submit": "提交申请", "resubmit": "重新提交", "approve": "通过", "reject": "驳回",
                "return": "退回", "withdraw": "撤回", "cancel": "取消", "remind": "超时提醒", "escalate": "超时升级"}
MAX_ATTACHMENT = 20 * 1024 * 1024
SEALED_LABEL = "（已封存病案）"
ATTACHMENT_TYPES = ("image/jpeg", "image/png", "image/heic", "image/webp", "application/pdf")


def box(session: Session, user: User, name: str, limit: int = 200) -> list[ApprovalRequest]:
    if name not in BOXES:
        raise Refusal("列表应为：todo（待办）、mine（我的申请）或 done（已办）")
    query = sa.select(ApprovalRequest).order_by(ApprovalRequest.id.desc()).limit(limit)
    if name == "mine":
        query = query.where(ApprovalRequest.applicant_id == user.id)
    elif name == "todo":
        query = query.where(ApprovalRequest.id.in_(_tasks(user, open_=True)), ApprovalRequest.status == "pending")
    else:
        acted = sa.select(ApprovalAction.request_id).where(ApprovalAction.user_id == user.id,
                                                           ApprovalAction.step.is_not(None))
        query = query.where(ApprovalRequest.id.in_(acted))
    return list(session.scalars(query))


def _tasks(user: User, *, open_: bool) -> sa.Select:
    query = sa.select(ApprovalTask.request_id).where(ApprovalTask.user_id == user.id)
    return query.where(ApprovalTask.done_at.is_(None)) if open_ else query


def todo_count(session: Session, user: User) -> int:
    """Requests waiting for this user's decision (the header shows it)."""
    return session.scalar(sa.select(sa.func.count(sa.distinct(ApprovalTask.request_id)))
                          .join(ApprovalRequest, ApprovalRequest.id == ApprovalTask.request_id)
                          .where(ApprovalTask.user_id == user.id, ApprovalTask.done_at.is_(None),
                                 ApprovalRequest.status == "pending"))


def visible_request(session: Session, user: User, request_id: int) -> ApprovalRequest:
    """The applicant and every approver the request ever had see it, opinions and all (L4)."""
    request = session.get(ApprovalRequest, request_id)
    if request is None:
        raise NotFound("申请不存在")
    if request.applicant_id != user.id and not session.scalar(
            _tasks(user, open_=False).where(ApprovalTask.request_id == request.id).limit(1)):
        raise Refusal("您不是该申请的申请人或审批人，不能查看")
    return request


@dataclass
class StepView:
    number: int
    name: str
    mode: str
    hours: int
    state: str  # 已通过 / 审批中 / 未开始
    approvers: list[str] = field(default_factory=list)


@dataclass
class RequestView:
    request: ApprovalRequest
    kind_name: str
    status_name: str
    steps: list[StepView]
    opinions: list[ApprovalAction]
    attachments: list[ApprovalAttachment]
    my_turn: bool
    mine: bool


def request_view(session: Session, user: User, request_id: int) -> RequestView:
    request = visible_request(session, user, request_id)
    tasks = list(session.scalars(sa.select(ApprovalTask).where(ApprovalTask.request_id == request.id)
                                 .order_by(ApprovalTask.id)))
    names = {u.id: u.full_name or u.username for u in session.scalars(
        sa.select(User).where(User.id.in_({task.user_id for task in tasks} or {-1})))}
    opinions = list(session.scalars(sa.select(ApprovalAction).where(ApprovalAction.request_id == request.id)
                                    .order_by(ApprovalAction.id)))
    attachments = list(session.scalars(sa.select(ApprovalAttachment).where(
        ApprovalAttachment.request_id == request.id).order_by(ApprovalAttachment.id)))
    my_turn = request.status == "pending" and any(
        task.user_id == user.id and task.done_at is None and task.step == request.current_step for task in tasks)
    return RequestView(request, kind_name(request.kind), STATUS_NAMES.get(request.status, request.status),
                       _steps(request, tasks, names), opinions, attachments, my_turn, request.applicant_id == user.id)


def _steps(request: ApprovalRequest, tasks: list[ApprovalTask], names: dict[int, str]) -> list[StepView]:
    views = []
    for index, step in enumerate(request.steps):
        if request.status == "approved" or index < request.current_step:
            state = "已通过"
        elif index == request.current_step and request.status in ("pending", "returned"):
            state = "审批中" if request.status == "pending" else "已退回申请人"
        elif index == request.current_step:
            state = STATUS_NAMES.get(request.status, "")
        else:
            state = "未开始"
        latest = [task for task in tasks if task.step == index]
        current_round = max((task.round for task in latest), default=0)
        approvers = sorted({names.get(task.user_id, "") for task in latest if task.round == current_round})
        views.append(StepView(index + 1, step["name"], MODE_NAMES.get(step.get("mode", "any"), "或签"),
                              int(step.get("hours", 0)), state, approvers))
    return views


def as_json(view: RequestView) -> dict:
    request = view.request
    return {
        **summary(request),
        "reason": request.reason, "payload": request.payload, "my_turn": view.my_turn,
        "steps": [{"number": s.number, "name": s.name, "mode": s.mode, "hours": s.hours, "state": s.state,
                   "approvers": s.approvers} for s in view.steps],
        "opinions": [{"step": None if a.step is None else a.step + 1, "action": a.action,
                      "action_name": ACTION_NAMES.get(a.action, a.action),
                      "user": (a.user.full_name or a.user.username) if a.user else "系统", "opinion": a.opinion,
                      "to_step": a.to_step, "at": a.at.isoformat()} for a in view.opinions],
        "attachments": [{"id": f.id, "filename": f.filename, "media_type": f.media_type, "size": f.size,
                         "url": f"/approvals/attachments/{f.id}"} for f in view.attachments],
    }


def summary(request: ApprovalRequest) -> dict:
    """A list row: never the opinions or attachments (list endpoints return summaries)."""
    return {
        "id": request.id, "kind": request.kind, "kind_name": kind_name(request.kind),
        "record_id": request.record_id, "record_number": record_label(request.record),
        "applicant": request.applicant.full_name or request.applicant.username,
        "status": request.status, "status_name": STATUS_NAMES.get(request.status, request.status),
        "current_step": request.current_step + 1, "step_name": request.steps[request.current_step]["name"],
        "created_at": request.created_at.isoformat(),
    }


def record_label(record: Record) -> str:
    """A sealed record is named by nobody's list (M3): its number shows only on the seal register."""
    return SEALED_LABEL if record.sealed else record.record_number


def add_attachment(session: Session, actor: Actor, user: User, store: BlobStore, request_id: int,
                   filename: str, media_type: str, data: bytes) -> ApprovalAttachment:
    """A file or photo (camera capture) for a request, from its applicant or one of its approvers."""
    request = visible_request(session, user, request_id)
    if media_type not in ATTACHMENT_TYPES:
        raise Refusal("附件只能是图片（JPEG、PNG、HEIC、WebP）或 PDF")
    if not data or len(data) > MAX_ATTACHMENT:
        raise Refusal(f"附件不能为空，且不超过 {MAX_ATTACHMENT // 1024 // 1024} MB")
    campus = request.record.campus.code if request.record.campus else "main"
    placement = Placement(campus=campus, record_number=request.record.record_number,
                          stay=request.record.stay_number, when=utcnow().date(), filename=filename or "附件")
    info = store.put(io.BytesIO(data), placement)
    attachment = ApprovalAttachment(request_id=request.id, uploaded_by_id=user.id, filename=(filename or "附件")[:255],
                                    media_type=media_type, size=len(data), sha256=info.sha256)
    session.add(attachment)
    session.flush()
    record_event(session, actor, "approval.attach", object_type="approval", object_id=request.id,
                 record_id=request.record_id, detail={"附件": attachment.filename, "大小": len(data)})
    return attachment


def open_attachment(session: Session, user: User, store: BlobStore,
                    attachment_id: int) -> tuple[ApprovalAttachment, BinaryIO]:
    attachment = session.get(ApprovalAttachment, attachment_id)
    if attachment is None:
        raise NotFound("附件不存在")
    visible_request(session, user, attachment.request_id)
    with store.open(attachment.sha256) as stream:
        return attachment, io.BytesIO(stream.read())
