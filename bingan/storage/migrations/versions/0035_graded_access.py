"""Graded access by period (分级访问, issue 18 item 6): a category permission template opens its
categories on certain days, at certain hours, from a terminal group.

Revision ID: 0035
Revises: 0033
"""
from alembic import op
import sqlalchemy as sa


revision = "0035"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("category_templates") as table:
        table.add_column(sa.Column("valid_from", sa.Date()))
        table.add_column(sa.Column("valid_until", sa.Date()))
        table.add_column(sa.Column("hours", sa.String(11), nullable=False, server_default=""))
        table.add_column(sa.Column("terminals", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("category_templates") as table:
        for column in ("terminals", "hours", "valid_until", "valid_from"):
            table.drop_column(column)
