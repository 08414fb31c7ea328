"""The flow editor's commands: flows per kind (stored, or the shipped default until one is saved)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.errors import NotFound, Refusal
from bingan.records.approvals.defaults import default_flow
from bingan.records.approvals.flows import parse_steps
from bingan.records.approvals.kinds import known_kinds
from bingan.storage.models import ApprovalFlow, Campus
from bingan.storage.models.records import RECORD_KINDS


@dataclass
class FlowForm:
    kind: str
    name: str
    position: int
    campus: str  # campus code; "" for every campus
    min_confidentiality: str
    restricted_tag: bool
    other_department: bool
    record_kind: str
    steps: str  # one line per step (flows.format_steps)
    active: bool


def flows_by_kind(session: Session) -> list[tuple[str, str, list[ApprovalFlow]]]:
    """(code, name, flows in matching order); a kind without stored flows shows its default."""
    stored: dict[str, list[ApprovalFlow]] = {}
    for flow in session.scalars(sa.select(ApprovalFlow).order_by(ApprovalFlow.position, ApprovalFlow.id)):
        stored.setdefault(flow.kind, []).append(flow)
    return [(code, name, stored.get(code) or [default_flow(code)]) for code, name in known_kinds().items()]


def campuses(session: Session) -> list[Campus]:
    return list(session.scalars(sa.select(Campus).where(Campus.active).order_by(Campus.code)))


def save_flow(session: Session, actor: Actor, flow_id: int | None, form: FlowForm) -> ApprovalFlow:
    if form.kind not in known_kinds():
        raise Refusal("未知的申请种类")
    if not form.name.strip():
        raise Refusal("请填写流程名称")
    flow = session.get(ApprovalFlow, flow_id) if flow_id else ApprovalFlow(kind=form.kind)
    if flow is None:
        raise NotFound("流程不存在")
    flow.kind, flow.name, flow.position, flow.active = form.kind, form.name.strip()[:100], form.position, form.active
    flow.campus_id = _campus_id(session, form.campus)
    flow.match = _rules(form)
    flow.steps = parse_steps(form.steps)
    session.add(flow)
    session.flush()
    record_event(session, actor, "approval.flow_save", object_type="approval_flow", object_id=flow.id,
                 detail={"种类": form.kind, "名称": flow.name, "规则": flow.match, "步骤": flow.steps})
    return flow


def delete_flow(session: Session, actor: Actor, flow_id: int) -> None:
    flow = session.get(ApprovalFlow, flow_id)
    if flow is None:
        raise NotFound("流程不存在")
    session.delete(flow)
    record_event(session, actor, "approval.flow_delete", object_type="approval_flow", object_id=flow_id,
                 detail={"种类": flow.kind, "名称": flow.name})


def _campus_id(session: Session, code: str) -> int | None:
    if not code:
        return None
    campus = session.scalars(sa.select(Campus).where(Campus.code == code)).first()
    if campus is None:
        raise Refusal(f"院区“{code}”不存在")
    return campus.id


def _rules(form: FlowForm) -> dict:
    rules: dict = {}
    if form.min_confidentiality.strip():
        if form.min_confidentiality.strip() not in ("0", "1", "2", "3"):
            raise Refusal("密级应为 0–3")
        rules["min_confidentiality"] = int(form.min_confidentiality)
    if form.restricted_tag:
        rules["restricted_tag"] = True
    if form.other_department:
        rules["other_department"] = True
    if form.record_kind:
        if form.record_kind not in RECORD_KINDS:
            raise Refusal("病案类型应为 normal、death 或 special")
        rules["record_kind"] = form.record_kind
    return rules
