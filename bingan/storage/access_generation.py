"""The access generation: a token that changes in every transaction that changes who may see what.

The gate's facts about a user (roles, scopes, restricted tags, category templates, grants) are
read on every request; they change seldom. A process keeps them per user under the token it read
(``access.policy``) and reads only the token per request. Every ORM change to the tables those
facts come from writes a new token in the same transaction, so another process's next request
after the commit reads the new token and loads afresh: a revoked grant closes at once, never after
a delay. Changes through raw SQL bypass this; only migrations write so, and a migration is
followed by a restart.
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session

from bingan.storage.models import (
    Category,
    CategoryTemplate,
    Department,
    Grant,
    Role,
    SystemSetting,
    Tag,
    TagPermission,
    User,
    UserScope,
    utcnow,
)

KEY = "access.generation"
WATCHED = (Category, CategoryTemplate, Department, Grant, Role, Tag, TagPermission, UserScope)
WATCHED_TABLES = frozenset(model.__tablename__ for model in (*WATCHED, User)) | {"user_roles"}
USER_FACTS = ("roles", "department_id")  # what a Subject takes from the user row's relations


def current(session: Session) -> str:
    """The token as this transaction sees it ("" before the first change ever)."""
    value = session.execute(sa.select(SystemSetting.value).where(SystemSetting.key == KEY)).scalar()
    return (value or {}).get("token", "")


def bump(session: Session) -> None:
    """A new token, in the session's transaction (an upsert: two first changes may race)."""
    now, value = utcnow(), {"token": uuid.uuid4().hex}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(SystemSetting).values(key=KEY, value=value, updated_at=now)
    session.connection().execute(statement.on_conflict_do_update(
        index_elements=[SystemSetting.key], set_={"value": value, "updated_at": now}))


def _changes_access(session: Session, instance: object) -> bool:
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
