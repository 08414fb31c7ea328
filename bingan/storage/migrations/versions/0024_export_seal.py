"""The hospital's certificates get a purpose: "pdf" (the existing one: seal packages, exported
PDFs) and "ofd_seal", the SM2 electronic seal that signs exported OFDs (issue 15 item 7).

Revision ID: 0024
Revises: 0023
"""
from alembic import op
import sqlalchemy as sa


revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("seal_certificates", sa.Column("purpose", sa.String(16), server_default="pdf", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("seal_certificates") as batch:
        batch.drop_column("purpose")
