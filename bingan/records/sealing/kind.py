"""The seal and unseal kinds the approval engine runs (installed by records/workflows.py)."""
from __future__ import annotations

from bingan.records.approvals.kinds import Kind
from bingan.records.sealing import service

SEAL = Kind("seal", "封存", on_approved=service.on_seal_approved, on_rejected=service.on_seal_rejected)
# Approvers of an unseal act on a sealed record: only seal managers may (ACTION_RULES "seal_list").
UNSEAL = Kind("unseal", "解封", on_approved=service.on_unseal_approved, gate_action="seal_list", on_sealed=True)
