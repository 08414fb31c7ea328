"""The flows shipped for each kind, used until an administrator saves flows of their own."""
from __future__ import annotations

from bingan.storage.models import ApprovalFlow


def _step(name: str, approvers: list[dict], *, mode: str = "any", hours: int = 24,
          escalate_to: str = "medical_affairs") -> dict:
    return {"name": name, "mode": mode, "approvers": approvers, "hours": hours, "escalate_to": escalate_to}


HEAD = {"kind": "head", "value": ""}
MEDICAL_AFFAIRS = {"kind": "role", "value": "medical_affairs"}
ARCHIVIST = {"kind": "role", "value": "archivist"}
QC = {"kind": "role", "value": "qc"}

DEFAULT_STEPS: dict[str, list[dict]] = {
    # 借阅: the head of the record's department, then the medical affairs office (医务处).
    "borrow": [_step("科室审核", [HEAD]), _step("医务处审批", [MEDICAL_AFFAIRS])],
    "renew": [_step("医务处审批", [MEDICAL_AFFAIRS])],
    # 封存: applied for by the medical affairs office (医务处, who received the patient); the record
    # room checks the scope and executes. 解封: another seal manager of the office decides (only
    # seal managers act on a sealed record). Hospitals add levels in the flow editor.
    "seal": [_step("病案室审核执行", [ARCHIVIST], hours=4)],
    "unseal": [_step("医务处审批", [{"kind": "permission", "value": "seal.manage"}])],
    "recall": [_step("科室审核", [HEAD]), _step("病案室审批", [ARCHIVIST])],
    # 归档质控: whoever holds 归档质控 (the QC office and the record room) reviews, one step.
    "archive_qc": [_step("病案室质控", [{"kind": "permission", "value": "qc.review"}], hours=72,
                         escalate_to="archivist")],
    "copy": [_step("病案室审核", [ARCHIVIST], hours=8)],
    # 到期销毁: another member of the record room checks the list, the medical affairs office decides.
    "destroy": [_step("病案室复核", [ARCHIVIST], hours=72), _step("医务处审批", [MEDICAL_AFFAIRS], hours=72)],
}


FALLBACK = [_step("医务处审批", [MEDICAL_AFFAIRS])]


def default_flow(kind: str) -> ApprovalFlow:
    """A flow that is not stored (id None); saving it on the flow editor stores a copy."""
    return ApprovalFlow(kind=kind, name="默认流程", position=1000, campus_id=None, match={},
                        steps=[dict(step) for step in DEFAULT_STEPS.get(kind, FALLBACK)],
                        active=True)
