"""The head of department (科主任) as a built-in role: a clinician who also approves the
department's borrowing and recall applications (the shipped flows' first step), within the
department only. Approving counts as granting, so its holders sign in with a second factor.

Revision ID: 0021
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa


revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

CODE, NAME = "dept_head", "科主任"
# A snapshot of bingan.access.permissions.ROLE_DEFAULTS["dept_head"] at this revision.
PERMISSIONS = ["record.view", "search.use", "lookup.use", "record.print", "record.tag", "record.approve",
               "borrow.apply", "record.submit", "record.mark", "recall.apply"]


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
