"""The discharge index covers the archive-rate report: besides discharge time and department it
holds every column the report counts (visit type, kind, discharge method, the three archive
times, the id it joins on), so a year of a million records is counted without reading the table.

Revision ID: 0023
Revises: 0022
"""
from alembic import op


revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

COVERED = ["discharged_at", "discharge_department_id", "visit_type", "kind", "discharge_method", "submitted_at",
           "discharge_reviewed_at", "archived_at", "id"]


def upgrade() -> None:
    op.drop_index("ix_records_discharged_dept", table_name="records")
    op.create_index("ix_records_discharged_dept", "records", COVERED)


def downgrade() -> None:
    op.drop_index("ix_records_discharged_dept", table_name="records")
    op.create_index("ix_records_discharged_dept", "records", COVERED[:2])
