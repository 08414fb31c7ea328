"""The search scope of a user for `bingan search --as`: the access policy once it exists."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.search.port import Scope
from bingan.storage.models import User

ADMIN_ROLES = {"sysadmin", "archivist", "medical_affairs"}


def scope_for_username(session: Session, username: str) -> Scope:
    if not username:
        return Scope.everything()
    user = session.scalars(sa.select(User).where(User.username == username)).one_or_none()
    if user is None or not user.active:
        raise LookupError(f"找不到用户或用户已停用：{username}")
    try:
        from bingan.access.policy import scope_for
    except ImportError:
        return _interim_scope(user)
    return scope_for(session, user)


def _interim_scope(user: User) -> Scope:
    """Until access/ lands: archive staff see every department, others only their own."""
    if any(role.code in ADMIN_ROLES for role in user.roles):
        return Scope(all_departments=True, max_confidentiality=user.max_confidentiality)
    departments = {user.department.code} if user.department else set()
    return Scope(departments=departments, max_confidentiality=user.max_confidentiality)
