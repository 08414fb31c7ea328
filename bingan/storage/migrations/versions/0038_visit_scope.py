"""Categories, document types and departments say which visits they apply to (issue 17 item 1):
``visit_scope`` inpatient | outpatient | both, "both" for every existing row.

Revision ID: 0038
Revises: 0037
"""
from alembic import op
import sqlalchemy as sa


revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None

TABLES = ("categories", "document_types", "departments")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("visit_scope", sa.String(16), server_default="both", nullable=False))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("visit_scope")
