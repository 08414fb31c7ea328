"""The recall kind (召回): checked on application, carried out in the transaction of the last approval."""
from __future__ import annotations

from bingan.records.approvals.kinds import Kind
from bingan.records.recall.service import check_apply, on_approved

# The approver must be one who may apply to recall the record: its department's head, the record room.
RECALL = Kind("recall", "召回", check_apply=check_apply, on_approved=on_approved)
