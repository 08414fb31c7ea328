"""Historical archive imports (历史病案批量导入, V9): imports and their entries, one per file;
scan.import given to the record room (issue 16).

Revision ID: 0028
Revises: 0027
"""
from alembic import op
import sqlalchemy as sa

from bingan.storage.migrate import give_permissions, take_permissions


revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

NOW = {"nullable": False}
WHEN = sa.DateTime(timezone=True)

# A snapshot of what bingan.access.permissions.ROLE_DEFAULTS added at this revision.
GIVEN = {"archivist": ["scan.import"]}


def _fk(table: str, column: str, target: str, **kwargs) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}", **kwargs)


def upgrade() -> None:
    op.create_table(
        "scan_imports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), **NOW), sa.Column("origin", sa.String(500), **NOW),
        sa.Column("state", sa.String(16), **NOW), sa.Column("total", sa.Integer(), **NOW),
        sa.Column("job_id", sa.Integer(), _fk("scan_imports", "job_id", "jobs")),
        sa.Column("owner_id", sa.Integer(), _fk("scan_imports", "owner_id", "users")),
        sa.Column("created_at", WHEN, **NOW), sa.Column("finished_at", WHEN),
    )
    op.create_table(
        "scan_import_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("import_id", sa.Integer(),
                  _fk("scan_import_entries", "import_id", "scan_imports", ondelete="CASCADE"), **NOW),
        sa.Column("seq", sa.Integer(), **NOW), sa.Column("path", sa.String(1000), **NOW),
        sa.Column("record_number", sa.String(64), **NOW), sa.Column("stay", sa.String(16), **NOW),
        sa.Column("category", sa.String(64), **NOW), sa.Column("state", sa.String(16), **NOW),
        sa.Column("problem", sa.Text(), **NOW),
        sa.Column("record_id", sa.Integer(),
                  _fk("scan_import_entries", "record_id", "records", ondelete="SET NULL")),
        sa.Column("file_sha256", sa.String(64), **NOW),
        sa.Column("item_id", sa.Integer()),  # collected_items.id; no constraint: that table is on another branch
        sa.Column("pages", sa.Integer(), **NOW), sa.Column("done_at", WHEN),
        sa.UniqueConstraint("import_id", "seq", name="uq_scan_import_entries_seq"),
    )
    op.create_index("ix_scan_import_entries_state", "scan_import_entries", ["import_id", "state", "seq"])
    give_permissions(op.get_bind(), GIVEN)


def downgrade() -> None:
    take_permissions(op.get_bind(), GIVEN)
    op.drop_table("scan_import_entries")
    op.drop_table("scan_imports")
