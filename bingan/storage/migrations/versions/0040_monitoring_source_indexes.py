"""One source's monitoring page at a million collected items (issue 17): one covering index led by
the source — its counts by state in a window, its waiting and failed items — in place of the plain
source_id index (bench/README.md "Collection monitoring": source page 124 → 27 ms at 1 M, SQLite).

Revision ID: 0040
Revises: 0039
"""
from alembic import op


revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

COLUMNS = ["source_id", "state", "created_at", "updated_at"]


def upgrade() -> None:
    op.create_index("ix_collected_items_source_state", "collected_items", COLUMNS)
    op.drop_index("ix_collected_items_source_id", table_name="collected_items")


def downgrade() -> None:
    op.create_index("ix_collected_items_source_id", "collected_items", ["source_id"])
    op.drop_index("ix_collected_items_source_state", table_name="collected_items")
