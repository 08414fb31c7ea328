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
    "seal": [_step("医务处审批", [MEDICAL_AFFAIRS], hours=4), _step("病案室执行", [ARCHIVIST], hours=4)],
    "unseal": [_step("医务处审批", [MEDICAL_AFFAIRS]), _step("病案室执行", [ARCHIVIST])],
    "recall": [_step("科室审核", [HEAD]), _step("病案室审批", [ARCHIVIST])],
    "archive_qc": [_step("质控审核", [QC], hours=72, escalate_to="archivist")],
    "copy": [_step("病案室审核", [ARCHIVIST], hours=8)],
}


FALLBACK = [_step("医务处审批", [MEDICAL_AFFAIRS])]


def default_flow(kind: str) -> ApprovalFlow:
    """A flow that is not stored (id None); saving it on the flow editor stores a copy."""
    return ApprovalFlow(kind=kind, name="默认流程", position=1000, campus_id=None, match={},
                        steps=[dict(step) for step in DEFAULT_STEPS.get(kind, FALLBACK)],
                        active=True)
