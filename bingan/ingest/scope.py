"""The search scope of a user for `bingan search --as`: the access policy's own answer."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.policy import scope_for, user_problem
from bingan.search.port import Scope
from bingan.storage.models import User

CONSOLE_IP = "127.0.0.1"  # the operator runs the command on the server itself


def scope_for_username(session: Session, username: str, client_ip: str = CONSOLE_IP) -> Scope:
    """Everything for the operator's own view (no user); otherwise exactly what search in the UI allows."""
    if not username:
        return Scope.everything()
    user = session.scalars(sa.select(User).where(User.username == username)).one_or_none()
    if user is None:
        raise LookupError(f"找不到用户：{username}")
    problem = user_problem(user)
    if problem:
        raise LookupError(f"用户 {username} 不能检索：{problem}")
    return scope_for(session, user, client_ip=client_ip)
