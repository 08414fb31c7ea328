"""Timed jobs of sealing: the three-year reminder (art. 27: a seal may be lifted after three years
without a claim) to every seal manager, once per seal."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import record_event
from bingan.access.policy import permissions_of
from bingan.records.approvals.engine import SYSTEM
from bingan.records.approvals.notifier import notify
from bingan.records.sealing.service import due_for_reminder
from bingan.storage.models import User


def remind_unclaimed_seals(session: Session, now: datetime) -> int:
    """Seals three years old without a reminder: seal managers are told they may apply to unseal.
    The message names the seal, not the record: seal managers open it on the seal list."""
    due = due_for_reminder(session, now)
    if not due:
        return 0
    managers = [user for user in session.scalars(sa.select(User).where(User.active))
                if "seal.manage" in permissions_of(user)]
    for seal in due:
        for manager in managers:
            notify(session, manager, "seal", f"封存满三年：封存登记 {seal.id} 可申请解封",
                   body="封存满三年未有纠纷主张（《医疗机构病历管理规定》第二十七条），请核实后决定是否申请解封。",
                   link=f"/sealing/{seal.id}")
        seal.reminded_at = now
        record_event(session, SYSTEM, "seal.reminder", object_type="seal", object_id=seal.id,
                     record_id=seal.record_id, detail={"提醒人数": len(managers)})
    return len(due)
