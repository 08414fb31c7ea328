"""The self-service copy kiosk (自助机, issue 15 item 4) as a built-in role: its service account
holds copy.kiosk only and reaches nothing but the kiosk's pages.

Revision ID: 0044
Revises: 0043
"""
from alembic import op
import sqlalchemy as sa


revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None

CODE, NAME = "kiosk", "自助机"
# A snapshot of bingan.access.permissions.ROLE_DEFAULTS["kiosk"] at this revision.
PERMISSIONS = ["copy.kiosk"]


def _roles() -> sa.Table:
    return sa.table("roles", sa.column("id", sa.Integer()), sa.column("code", sa.String()),
                    sa.column("name", sa.String()), sa.column("permissions", sa.JSON()),
                    sa.column("builtin", sa.Boolean()))


def upgrade() -> None:
    """A hospital that already made its own role of this code keeps its name and permissions: the
    role only becomes built-in (it can no longer be deleted)."""
    roles, bind = _roles(), op.get_bind()
    if bind.execute(sa.select(roles.c.id).where(roles.c.code == CODE)).first() is None:
        bind.execute(roles.insert().values(code=CODE, name=NAME, permissions=PERMISSIONS, builtin=True))
    else:
        bind.execute(roles.update().where(roles.c.code == CODE).values(builtin=True))


def downgrade() -> None:
    """Its holders keep their role: it only stops being built-in."""
    roles = _roles()
    op.get_bind().execute(roles.update().where(roles.c.code == CODE).values(builtin=False))
