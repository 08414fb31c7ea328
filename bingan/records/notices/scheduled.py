"""The timed sweep: deliveries whose kick was lost or whose retry is due are sent on every beat tick."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bingan.records.notices.service import deliver, due_deliveries


def deliver_due(session: Session, now: datetime) -> int:
    """Send what is due; the number sent."""
    return sum(deliver(session, delivery_id, now) == "sent" for delivery_id in due_deliveries(session, now))
