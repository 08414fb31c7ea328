"""The destroy kind (到期销毁): checked on application, carried out in the transaction of the last approval."""
from __future__ import annotations

from bingan.records.approvals.kinds import Kind
from bingan.records.retention.service import KIND, check_apply, on_approved

DESTROY = Kind(KIND, "到期销毁", check_apply=check_apply, on_approved=on_approved)
