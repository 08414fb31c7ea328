"""Collection rounds (采集轮次): when the EMR reports a record complete, each of the record's pull
sources is due once more for that record after its own delay (issue 17, A3/T3).

Revision ID: 0025
Revises: 0024, 0003
"""
from alembic import op
import sqlalchemy as sa


revision = "0025"
down_revision = ("0024", "0003")  # also joins the collection branch: sources must exist first
branch_labels = None
depends_on = None

NOW = {"nullable": False}
WHEN = sa.DateTime(timezone=True)


def _fk(column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_collection_rounds_{column}_{target}", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "collection_rounds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_id", sa.Integer(), _fk("source_id", "sources"), **NOW),
        sa.Column("record_id", sa.Integer(), _fk("record_id", "records"), **NOW),
        sa.Column("reason", sa.String(32), **NOW),
        sa.Column("created_at", WHEN, **NOW),
        sa.Column("due_at", WHEN, **NOW),
        sa.Column("started_at", WHEN),
    )
    op.create_index("ix_collection_rounds_due", "collection_rounds", ["started_at", "due_at"])
    op.create_index("ix_collection_rounds_record_id", "collection_rounds", ["record_id"])


def downgrade() -> None:
    op.drop_table("collection_rounds")
