"""Which flow a request follows (first matching rule wins), who may approve a step, and the
one-line-per-step text the flow editor shows:

    科室审核 | 或签 | 科主任, 经治医师 | 24 | medical_affairs

name | 或签 (one suffices) or 会签 (all must agree) | approvers | time limit in hours | role to
escalate to. Approvers: 角色:code, 权限:code, 科主任 (a holder of 审批 in the record's
department), 经治医师 (the record's attending or resident doctor), 用户:username.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.policy import decide_for, load_subject, permissions_of, record_department
from bingan.errors import Refusal
from bingan.records.approvals.defaults import default_flow
from bingan.storage.models import ApprovalFlow, Record, Role, User

MODES = {"或签": "any", "会签": "all"}
MODE_NAMES = {code: name for name, code in MODES.items()}
APPROVER_PREFIXES = {"角色": "role", "权限": "permission", "用户": "user"}
APPROVER_WORDS = {"科主任": "head", "经治医师": "doctors"}


def choose_flow(session: Session, kind: str, record: Record, applicant_departments: set[str]) -> ApprovalFlow:
    flows = session.scalars(
        sa.select(ApprovalFlow).where(ApprovalFlow.kind == kind, ApprovalFlow.active)
        .order_by(ApprovalFlow.position, ApprovalFlow.id)
    )
    for flow in flows:
        if flow_matches(flow, record, applicant_departments):
            return flow
    return default_flow(kind)


def flow_matches(flow: ApprovalFlow, record: Record, applicant_departments: set[str]) -> bool:
    rules = flow.match or {}
    department = record_department(record)
    checks = [
        flow.campus_id is None or flow.campus_id == record.campus_id,
        "min_confidentiality" not in rules or record.confidentiality >= int(rules["min_confidentiality"]),
        not rules.get("restricted_tag") or any(tag.restricted for tag in record.tags),
        not rules.get("other_department") or department is None or department.code not in applicant_departments,
        not rules.get("record_kind") or record.kind == rules["record_kind"],
    ]
    return all(checks)


def resolve_approvers(session: Session, step: dict, record: Record, applicant_id: int,
                      action: str = "view") -> list[User]:
    """The active users a step's rules name who may act on the record (the kind's gate action);
    never the applicant."""
    found: dict[int, User] = {}
    for rule in step.get("approvers", []):
        for user in _named_by(session, rule, record):
            found.setdefault(user.id, user)
    return [user for user in found.values() if user.id != applicant_id and may_act(session, user, record, action)]


def may_act(session: Session, user: User, record: Record, action: str = "view") -> bool:
    return bool(decide_for(load_subject(session, user), action, record))


def _named_by(session: Session, rule: dict, record: Record) -> list[User]:
    kind, value = rule.get("kind"), str(rule.get("value", ""))
    active = sa.select(User).where(User.active)
    if kind == "role":
        return list(session.scalars(active.join(User.roles).where(Role.code == value)))
    if kind == "user":
        return list(session.scalars(active.where(User.username == value)))
    if kind == "permission":
        return [user for user in session.scalars(active) if value in permissions_of(user)]
    if kind == "head":
        department = record_department(record)
        if department is None:
            return []
        members = session.scalars(active.where(User.department_id == department.id))
        return [user for user in members if "record.approve" in permissions_of(user)]
    if kind == "doctors":
        names = {name for name in (record.attending_doctor, record.resident_doctor) if name}
        return list(session.scalars(active.where(User.full_name.in_(names)))) if names else []
    return []


# --- the editor's text form --------------------------------------------------------------------

def format_steps(steps: list[dict]) -> str:
    return "\n".join(" | ".join([
        step["name"], MODE_NAMES.get(step.get("mode", "any"), "或签"),
        ", ".join(_format_approver(rule) for rule in step.get("approvers", [])),
        str(step.get("hours", 0)), step.get("escalate_to", ""),
    ]) for step in steps)


def _format_approver(rule: dict) -> str:
    for word, kind in APPROVER_WORDS.items():
        if rule["kind"] == kind:
            return word
    prefix = next(name for name, kind in APPROVER_PREFIXES.items() if kind == rule["kind"])
    return f"{prefix}:{rule['value']}"


def parse_steps(text: str) -> list[dict]:
    steps = [_parse_step(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not steps:
        raise Refusal("流程至少需要一个步骤")
    return steps


def _parse_step(number: int, line: str) -> dict:
    parts = [part.strip() for part in line.replace("｜", "|").split("|")]
    parts += [""] * (5 - len(parts))
    if len(parts) > 5 or not parts[0]:
        raise Refusal(f"第{number}行格式应为：步骤名称 | 或签/会签 | 审批人 | 时限(小时) | 升级角色")
    if parts[1] not in MODES:
        raise Refusal(f"第{number}行：签批方式应为“或签”或“会签”")
    approvers = [_parse_approver(number, token) for token in parts[2].replace("，", ",").split(",") if token.strip()]
    if not approvers:
        raise Refusal(f"第{number}行：至少需要一个审批人")
    if parts[3] and not parts[3].isdigit():
        raise Refusal(f"第{number}行：时限应为整数小时")
    return {"name": parts[0][:50], "mode": MODES[parts[1]], "approvers": approvers,
            "hours": int(parts[3] or 0), "escalate_to": parts[4]}


def _parse_approver(number: int, token: str) -> dict:
    token = token.strip().replace("：", ":")
    if token in APPROVER_WORDS:
        return {"kind": APPROVER_WORDS[token], "value": ""}
    prefix, _, value = token.partition(":")
    if prefix not in APPROVER_PREFIXES or not value.strip():
        raise Refusal(f"第{number}行：无法识别审批人“{token}”"
                      "（可写 角色:代码、权限:代码、科主任、经治医师、用户:用户名）")
    return {"kind": APPROVER_PREFIXES[prefix], "value": value.strip()}
