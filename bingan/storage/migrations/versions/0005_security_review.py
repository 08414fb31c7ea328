"""Security review (issue 9): session lifetimes, second-factor resets, keyed audit chain, index access outbox.

Revision ID: 0005
Revises: 0004
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _sessions()
    _audit()
    _index()
    _files()


def _sessions() -> None:
    """Logins and the second factor."""


def _audit() -> None:
    """The audit chain: existing events keep their unkeyed hash as chain version 1 (still verified,
    never rewritten); new events are keyed (2). The built-in record room role sees who read a record
    on its timeline (record.timeline_viewers)."""
    op.add_column("audit_events", sa.Column("chain_version", sa.Integer(), server_default="1", nullable=False))
    roles = sa.Table("roles", sa.MetaData(), autoload_with=op.get_bind())
    archivist = sa.and_(roles.c.code == "archivist", roles.c.builtin.is_(True))
    for permissions in op.get_bind().execute(sa.select(roles.c.permissions).where(archivist)).scalars():
        if "record.timeline_viewers" not in permissions:
            op.get_bind().execute(roles.update().where(archivist).values(
                permissions=[*permissions, "record.timeline_viewers"]))


def _index() -> None:
    """The search index's access terms: records whose access facts changed, until the worker
    has updated their pages in the index (bingan/storage/models/search.py)."""
    op.create_table(
        "index_access_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_access_outbox")),
    )
    op.create_index(op.f("ix_index_access_outbox_record_id"), "index_access_outbox", ["record_id"])


def _files() -> None:
    """A video's browser-playable rendition: what a user who may only view is shown (M6)."""
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("playable_sha256", sa.String(64), nullable=True))
