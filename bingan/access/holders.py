"""Who holds a permission (active users through their roles): whom a system notice goes to."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.policy import permissions_of
from bingan.storage.models import User


def users_holding(session: Session, permission: str) -> list[User]:
    return [user for user in session.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.id))
            if permission in permissions_of(user)]
