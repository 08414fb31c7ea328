"""Audit events appended without a global lock and chained by a sealer (issue 12 item 6).

Revision ID: 0007
Revises: 0006
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Every existing event was chained in id order when it was written: that is its place."""
    op.add_column("audit_events", sa.Column("row_mac", sa.String(64), server_default="", nullable=False))
    op.add_column("audit_events", sa.Column("chain_seq", sa.Integer(), nullable=True))
    op.execute("UPDATE audit_events SET chain_seq = id")
    op.create_index("ix_audit_events_chain_seq", "audit_events", ["chain_seq"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_audit_events_chain_seq", table_name="audit_events")
    op.drop_column("audit_events", "chain_seq")
    op.drop_column("audit_events", "row_mac")
