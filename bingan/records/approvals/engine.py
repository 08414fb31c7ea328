"""Running a request through its flow: submit, approve, reject, return, resubmit, withdraw, cancel.

Invariants (tests/records/approvals/test_engine_spec.py): nobody approves their own request; an
approver holds an open task of the current step (the step's rule) and the gate's leave on the
record (scope, level, tags); every action writes its audit event in the caller's transaction; the
kind's ``on_approved`` runs in the transaction of the last approval; an open request on a record
that gets sealed is cancelled with the reason.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

from bingan.access.audit import Actor, record_event
from bingan.access.policy import decide_for, load_subject
from bingan.errors import Conflict, NotFound, Refusal
from bingan.records.approvals.flows import choose_flow, resolve_approvers
from bingan.records.approvals.kinds import kind_name, kind_of
from bingan.records.approvals.notifier import notify, redact_sealed
from bingan.storage.models import ApprovalAction, ApprovalRequest, ApprovalTask, Record, User, utcnow
from bingan.storage.models.approvals import OPEN_STATUSES

STATUS_NAMES = {"pending": "审批中", "returned": "已退回申请人", "approved": "已通过", "rejected": "已驳回",
                "withdrawn": "已撤回", "cancelled": "已取消"}
DECISIONS = ("approve", "reject", "return")
SYSTEM = Actor(None, "系统")


def submit(session: Session, actor: Actor, applicant: User, kind_code: str, record: Record, reason: str,
           payload: dict | None = None) -> ApprovalRequest:
    """An application on a record; the first matching flow's steps are copied onto it."""
    kind = kind_of(kind_code)
    if record.sealed and not kind.on_sealed:
        raise Conflict("病案已封存，不能提交申请")
    if not reason.strip():
        raise Refusal("请填写申请理由")
    payload = dict(payload or {})
    kind.check_apply(session, applicant, record, payload)  # may complete the payload (defaults)
    duplicate = session.scalar(sa.select(ApprovalRequest.id).where(
        ApprovalRequest.kind == kind.code, ApprovalRequest.record_id == record.id,
        ApprovalRequest.applicant_id == applicant.id, ApprovalRequest.status.in_(OPEN_STATUSES)))
    if duplicate:
        raise Conflict(f"您对该病案已有未完成的{kind.name}申请（编号 {duplicate}）")
    flow = choose_flow(session, kind.code, record, load_subject(session, applicant).departments)
    request = ApprovalRequest(kind=kind.code, record=record, applicant=applicant, flow_id=flow.id,
                              flow_name=flow.name, steps=list(flow.steps), reason=reason.strip(),
                              payload=payload, status="pending", round=0)
    session.add(request)
    session.flush()
    _log(session, request, applicant, "submit", reason.strip(), step=None)
    _enter(session, request, 0)
    _audit(session, actor, request, "submit", {"理由": reason.strip(), "流程": flow.name})
    return request


def decide(session: Session, actor: Actor, user: User, request_id: int, decision: str, opinion: str = "",
           to_step: int | None = None) -> ApprovalRequest:
    """``to_step``: for a return, the 1-based step to go back to; None or 0 is the applicant."""
    request = load_for_update(session, request_id)
    if request.status != "pending":
        raise Conflict(f"该申请{STATUS_NAMES.get(request.status, request.status)}，不能再审批")
    if decision not in DECISIONS:
        raise Refusal("审批结论应为：通过、驳回或退回")
    if request.applicant_id == user.id:
        raise Refusal("不能审批自己的申请")
    task = _open_task(session, request, user)
    if task is None:
        raise Refusal("您不是该申请当前步骤的审批人")
    gate = decide_for(load_subject(session, user), kind_of(request.kind).gate_action, request.record)
    if not gate:
        raise Refusal(f"您不能审批：{gate.reason_zh}")
    if decision != "approve" and not opinion.strip():
        raise Refusal("驳回或退回时请填写意见")
    task.done_at, task.outcome = utcnow(), decision
    step = request.current_step
    _log(session, request, user, decision, opinion, step=step, to_step=to_step if decision == "return" else None)
    if decision == "approve":
        _approve(session, actor, request, user)
    elif decision == "reject":
        _finish(session, actor, request, "rejected")
        kind_of(request.kind).on_rejected(session, request, actor)
    else:
        _return(session, request, to_step or 0)
    _audit(session, actor, request, decision, {"步骤": step + 1, "意见": opinion, "退回至": to_step})
    return request


def _approve(session: Session, actor: Actor, request: ApprovalRequest, user: User) -> None:
    step = request.steps[request.current_step]
    if step.get("mode") == "all" and _open_tasks(session, request):
        return  # 会签: the others still have to agree
    _close_tasks(session, request)
    if request.current_step + 1 < len(request.steps):
        _enter(session, request, request.current_step + 1)
        return
    _finish(session, actor, request, "approved")
    kind_of(request.kind).on_approved(session, request, actor)


def _return(session: Session, request: ApprovalRequest, to_step: int) -> None:
    if to_step < 0 or to_step > request.current_step:
        raise Refusal(f"只能退回到申请人或当前步骤之前的步骤（1–{request.current_step}）")
    _close_tasks(session, request)
    name = kind_name(request.kind)
    if to_step == 0:
        request.status = "returned"  # current_step stays: the resubmission comes straight back here
        notify(session, request.applicant, "return", f"您的{name}申请被退回，请修改后重新提交",
               link=f"/approvals/{request.id}")
        return
    _enter(session, request, to_step - 1)
    notify(session, request.applicant, "return", f"您的{name}申请被退回至第{to_step}步重新审核",
           link=f"/approvals/{request.id}")


def resubmit(session: Session, actor: Actor, applicant: User, request_id: int, opinion: str = "") -> ApprovalRequest:
    """A returned request goes straight back to the step that returned it."""
    request = load_for_update(session, request_id)
    if request.applicant_id != applicant.id:
        raise Refusal("只有申请人可以重新提交")
    if request.status != "returned":
        raise Conflict(f"该申请{STATUS_NAMES.get(request.status, request.status)}，不能重新提交")
    if request.record.sealed and not kind_of(request.kind).on_sealed:
        raise Conflict("病案已封存，不能重新提交")
    request.status = "pending"
    _log(session, request, applicant, "resubmit", opinion, step=None)
    _enter(session, request, request.current_step)
    _audit(session, actor, request, "resubmit", {"说明": opinion, "步骤": request.current_step + 1})
    return request


def withdraw(session: Session, actor: Actor, applicant: User, request_id: int) -> ApprovalRequest:
    request = load_for_update(session, request_id)
    if request.applicant_id != applicant.id:
        raise Refusal("只有申请人可以撤回申请")
    if request.status not in OPEN_STATUSES:
        raise Conflict(f"该申请{STATUS_NAMES.get(request.status, request.status)}，不能撤回")
    _log(session, request, applicant, "withdraw", "", step=None)
    _finish(session, actor, request, "withdrawn", tell_applicant=False)
    _audit(session, actor, request, "withdraw", {})
    return request


def cancel_open_requests(session: Session, record: Record, reason: str, actor: Actor = SYSTEM) -> list[int]:
    """Cancel every open request on ``record`` (it was sealed meanwhile), telling each applicant why.
    Called by the record life cycle where ``Record.sealed`` becomes true."""
    requests = list(session.scalars(sa.select(ApprovalRequest).where(
        ApprovalRequest.record_id == record.id, ApprovalRequest.status.in_(OPEN_STATUSES))))
    for request in requests:
        request.outcome_note = reason
        _log(session, request, None, "cancel", reason, step=None)
        _finish(session, actor, request, "cancelled")
        _audit(session, actor, request, "cancel", {"原因": reason})
    return [request.id for request in requests]


@event.listens_for(Record.sealed, "set")
def _sealed_meanwhile(record: Record, value: bool, old: object, _initiator: object) -> None:
    """Whoever seals a record (records/lifecycle.py, an administrator's tool, a migration of data),
    its open requests end: nobody may act on a sealed record."""
    session = object_session(record)
    if value and old is not True and session is not None and record.id is not None:
        cancel_open_requests(session, record, "病案已封存，申请自动取消")
        redact_sealed(session, record.record_number, record.patient.name if record.patient else "")


# --- the pieces -------------------------------------------------------------------------------

def load_for_update(session: Session, request_id: int) -> ApprovalRequest:
    """The request, locked for the decision on PostgreSQL (two approvers at once decide in turn)."""
    request = session.scalars(
        sa.select(ApprovalRequest).where(ApprovalRequest.id == request_id).with_for_update()).first()
    if request is None:
        raise NotFound("申请不存在")
    return request


def _enter(session: Session, request: ApprovalRequest, index: int) -> None:
    """Make step ``index`` current: a new round with one open task per approver."""
    step = request.steps[index]
    approvers = resolve_approvers(session, step, request.record, request.applicant_id,
                                  kind_of(request.kind).gate_action)
    if not approvers:
        raise Refusal(f"第{index + 1}步“{step['name']}”没有可用的审批人，请联系系统管理员调整审批流程")
    request.current_step, request.round = index, request.round + 1
    request.step_started_at, request.reminded, request.escalated = utcnow(), False, False
    for user in approvers:
        session.add(ApprovalTask(request_id=request.id, step=index, round=request.round, user_id=user.id))
        notify(session, user, "approval", f"待审批：{request.applicant.full_name or request.applicant.username}的"
               f"{kind_name(request.kind)}申请（病案 {request.record.record_number}）",
               body=f"第{index + 1}步“{step['name']}”", link=f"/approvals/{request.id}")
    session.flush()


def _finish(session: Session, actor: Actor, request: ApprovalRequest, status: str, *,
            tell_applicant: bool = True) -> None:
    request.status, request.decided_at = status, utcnow()
    _close_tasks(session, request)
    if tell_applicant:
        kind = "cancel" if status == "cancelled" else "decision"
        notify(session, request.applicant, kind, f"您的{kind_name(request.kind)}申请{STATUS_NAMES[status]}",
               body=request.outcome_note, link=f"/approvals/{request.id}")


def _open_tasks(session: Session, request: ApprovalRequest) -> list[ApprovalTask]:
    return list(session.scalars(sa.select(ApprovalTask).where(
        ApprovalTask.request_id == request.id, ApprovalTask.done_at.is_(None))))


def _open_task(session: Session, request: ApprovalRequest, user: User) -> ApprovalTask | None:
    return next((task for task in _open_tasks(session, request)
                 if task.user_id == user.id and task.step == request.current_step), None)


def _close_tasks(session: Session, request: ApprovalRequest) -> None:
    for task in _open_tasks(session, request):
        task.done_at, task.outcome = utcnow(), "closed"


def _log(session: Session, request: ApprovalRequest, user: User | None, action: str, opinion: str, *,
         step: int | None, to_step: int | None = None) -> None:
    session.add(ApprovalAction(request_id=request.id, step=step, round=request.round,
                               user_id=user.id if user else None, action=action, opinion=opinion.strip(),
                               to_step=to_step))


def _audit(session: Session, actor: Actor, request: ApprovalRequest, action: str, detail: dict) -> None:
    record_event(session, actor, f"approval.{action}", object_type="approval", object_id=request.id,
                 record_id=request.record_id, detail={"申请": kind_name(request.kind), **detail})
