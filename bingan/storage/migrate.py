"""Schema migrations (Alembic) run from code: `bingan migrate`, tests and `make run` use this."""
from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from bingan.storage.db import normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url))
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    config = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str:
    """The applied revision(s); domains add migrations on their own branches, so there may be several."""
    with engine.connect() as connection:
        return ",".join(sorted(MigrationContext.configure(connection).get_current_heads()))


@functools.cache  # the scripts a process runs do not change under it; parsing them costs ~40 ms (/healthz)
def head_revision() -> str:
    return ",".join(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def give_permissions(bind: Connection, given: dict[str, list[str]]) -> None:
    """For migrations: each built-in role gains the new permissions it is given; a permission an
    administrator removed from a role before is not there to be kept, and nothing else changes."""
    roles = _roles_table()
    for role_code, codes in given.items():
        for role_id, permissions in bind.execute(sa.select(roles.c.id, roles.c.permissions)
                                                 .where(roles.c.code == role_code)):
            missing = [code for code in codes if code not in (permissions or [])]
            if missing:
                bind.execute(roles.update().where(roles.c.id == role_id)
                             .values(permissions=[*(permissions or []), *missing]))


def take_permissions(bind: Connection, given: dict[str, list[str]]) -> None:
    """For downgrades: the permissions ``give_permissions`` gave are taken back."""
    roles = _roles_table()
    for role_code, codes in given.items():
        for role_id, permissions in bind.execute(sa.select(roles.c.id, roles.c.permissions)
                                                 .where(roles.c.code == role_code)):
            bind.execute(roles.update().where(roles.c.id == role_id)
                         .values(permissions=[code for code in permissions or [] if code not in codes]))


def _roles_table() -> sa.TableClause:
    """The roles table as migrations see it (not the model: a migration must not change with it)."""
    return sa.table("roles", sa.column("id", sa.Integer()), sa.column("code", sa.String()),
                    sa.column("permissions", sa.JSON()))
