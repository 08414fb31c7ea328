"""The access generation: a token that changes in every transaction that changes who may see what.

The gate's facts about a user (roles, scopes, restricted tags, category templates, grants), the
IP rules and the settings every request reads (security, appearance) are read on every request;
they change seldom. A process keeps them under the token it read (``access.policy``, ``kept``)
and reads only the token, once per transaction. Every ORM change to the tables those
facts come from writes a new token in the same transaction, so another process's next request
after the commit reads the new token and loads afresh: a revoked grant closes at once, never after
a delay. Changes through raw SQL bypass this; only migrations write so, and a migration is
followed by a restart.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session

from bingan.storage.models import (
    Category,
    CategoryTemplate,
    Department,
    Grant,
    IpRule,
    Role,
    SystemSetting,
    Tag,
    TagPermission,
    User,
    UserScope,
    utcnow,
)

KEY = "access.generation"
WATCHED = (Category, CategoryTemplate, Department, Grant, IpRule, Role, Tag, TagPermission, UserScope)
WATCHED_TABLES = frozenset(model.__tablename__ for model in (*WATCHED, User)) | {"user_roles"}
WATCHED_SETTINGS = frozenset({"security", "appearance"})  # system_settings keys read by every request
USER_FACTS = ("roles", "department_id")  # what a Subject takes from the user row's relations
# A change made with plain SQL (a DBA's script) renews no token: it still counts within a minute.
MAX_AGE_SECONDS = 60
_MEMO = "bingan_access_generation"  # session.info: (transaction, token, bumped in it)
T = TypeVar("T")


def current(session: Session) -> str:
    """The token as this transaction sees it ("" before the first change ever), read once per
    transaction: a request asks for it several times (subject, IP rules, settings)."""
    memo = session.info.get(_MEMO)
    if memo is not None and memo[0] is _innermost(session):
        return memo[1]
    value = session.execute(sa.select(SystemSetting.value).where(SystemSetting.key == KEY)).scalar()
    token = (value or {}).get("token", "")
    session.info[_MEMO] = (_innermost(session), token, False)
    return token


def bump(session: Session) -> None:
    """A new token, in the session's transaction (an upsert: two first changes may race); once
    per transaction (or SAVEPOINT, which may be rolled back alone) is enough."""
    if changed_here(session):
        return
    now, value = utcnow(), {"token": uuid.uuid4().hex}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(SystemSetting).values(key=KEY, value=value, updated_at=now)
    session.connection().execute(statement.on_conflict_do_update(
        index_elements=[SystemSetting.key], set_={"value": value, "updated_at": now}))
    session.info[_MEMO] = (_innermost(session), value["token"], True)


def changed_here(session: Session) -> bool:
    """Whether this transaction has changed access facts already. What it reads now may change
    again before it commits under the same token, so nobody keeps it."""
    memo = session.info.get(_MEMO)
    return memo is not None and memo[2] and memo[0] is _innermost(session)


def _innermost(session: Session) -> object:
    return session.get_nested_transaction() or session.get_transaction()


_KEPT: dict[Hashable, tuple[str, float, Any]] = {}  # name -> (token, read at, value), per process


def kept(session: Session, name: Hashable, read: Callable[[Session], T]) -> T:
    """``read(session)``, or this process's copy of it while the token it was read under stands
    (at most MAX_AGE_SECONDS). For facts under the watch above only; the value is shared, so
    ``read`` returns something nobody mutates (tuples, frozen objects, or copy on use)."""
    token = current(session)
    held = _KEPT.get(name)
    if held is not None and held[0] == token and time.monotonic() - held[1] <= MAX_AGE_SECONDS:
        return held[2]
    value = read(session)
    if not changed_here(session):
        _KEPT[name] = (token, time.monotonic(), value)
    return value


def _changes_access(session: Session, instance: object) -> bool:
    if isinstance(instance, SystemSetting):
        return instance.key in WATCHED_SETTINGS
    if isinstance(instance, User):
        state = sa.inspect(instance)
        return not state.pending and any(state.attrs[name].history.has_changes() for name in USER_FACTS)
    return isinstance(instance, WATCHED)


@event.listens_for(Session, "before_flush")
def _bump_on_flush(session: Session, _context, _instances) -> None:
    changed = [*session.new, *session.deleted,
               *(i for i in session.dirty if session.is_modified(i, include_collections=True))]
    if any(_changes_access(session, instance) for instance in changed):
        bump(session)


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk_statement(state: ORMExecuteState) -> None:
    """``session.execute(sa.delete(UserScope)…)`` and the like change rows without a flush."""
    if (state.is_update or state.is_delete or state.is_insert) and \
            getattr(state.statement, "table", None) is not None and state.statement.table.name in WATCHED_TABLES:
        bump(state.session)
