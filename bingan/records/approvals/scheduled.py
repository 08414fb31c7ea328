"""Timed job of the approval engine (the worker tick calls it): a step past its time limit reminds
its approvers; past twice its limit it is escalated to the step's named role."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.policy import aware
from bingan.records.approvals.engine import SYSTEM, _audit, _open_tasks
from bingan.records.approvals.flows import resolve_approvers
from bingan.records.approvals.kinds import kind_name
from bingan.records.approvals.notifier import notify
from bingan.storage.models import ApprovalRequest, ApprovalTask, User, utcnow


def remind_and_escalate(session: Session, now: datetime | None = None) -> dict[str, int]:
    now = now or utcnow()
    reminded = escalated = 0
    for request in session.scalars(sa.select(ApprovalRequest).where(
            ApprovalRequest.status == "pending", ApprovalRequest.escalated.is_(False))):
        step = request.steps[request.current_step]
        hours = int(step.get("hours", 0))
        if not hours:
            continue
        waited = now - aware(request.step_started_at)
        if waited >= timedelta(hours=2 * hours) and step.get("escalate_to"):
            escalated += _escalate(session, request, step)
        elif waited >= timedelta(hours=hours) and not request.reminded:
            reminded += _remind(session, request, step)
    return {"reminded": reminded, "escalated": escalated}


def _remind(session: Session, request: ApprovalRequest, step: dict) -> int:
    request.reminded = True
    for task in _open_tasks(session, request):
        notify(session, session.get(User, task.user_id), "reminder",
               f"{kind_name(request.kind)}申请待您审批，已超过时限 {step['hours']} 小时",
               link=f"/approvals/{request.id}")
    _audit(session, SYSTEM, request, "remind", {"步骤": request.current_step + 1})
    return 1


def _escalate(session: Session, request: ApprovalRequest, step: dict) -> int:
    """The named role's members join the step (each may decide as one of its approvers)."""
    request.escalated = True
    tasked = {task.user_id for task in _open_tasks(session, request)}
    rule = {"approvers": [{"kind": "role", "value": step["escalate_to"]}]}
    for user in resolve_approvers(session, rule, request.record, request.applicant_id):
        if user.id in tasked:
            continue
        session.add(ApprovalTask(request_id=request.id, step=request.current_step, round=request.round,
                                 user_id=user.id, escalated=True))
        notify(session, user, "reminder", f"{kind_name(request.kind)}申请超时未审批，已升级给您",
               link=f"/approvals/{request.id}")
    _audit(session, SYSTEM, request, "escalate", {"步骤": request.current_step + 1, "升级至": step["escalate_to"]})
    return 1
