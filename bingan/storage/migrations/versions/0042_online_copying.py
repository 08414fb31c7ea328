"""Online copy applications (issue 15): a copy request's channel (window | online), the record
room's review of an online application, and the patient's expiring, view-limited download.

Revision ID: 0042
Revises: 0041
"""
from alembic import op
import sqlalchemy as sa


revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("copy_requests") as table:
        table.add_column(sa.Column("channel", sa.String(16), server_default="window", nullable=False))
        table.add_column(sa.Column("reviewed_at", WHEN, nullable=True))
        table.add_column(sa.Column("reviewed_by_id", sa.Integer(), nullable=True))
        table.add_column(sa.Column("review_reason", sa.Text(), server_default="", nullable=False))
        table.add_column(sa.Column("download_hash", sa.String(64), nullable=True))
        table.add_column(sa.Column("download_expires_at", WHEN, nullable=True))
        table.add_column(sa.Column("download_views", sa.Integer(), server_default="0", nullable=False))
        table.add_column(sa.Column("download_max_views", sa.Integer(), server_default="0", nullable=False))
        table.create_foreign_key("fk_copy_requests_reviewed_by_id_users", "users", ["reviewed_by_id"], ["id"])
        table.create_unique_constraint("uq_copy_requests_download_hash", ["download_hash"])


def downgrade() -> None:
    with op.batch_alter_table("copy_requests") as table:
        table.drop_constraint("uq_copy_requests_download_hash", type_="unique")
        table.drop_constraint("fk_copy_requests_reviewed_by_id_users", type_="foreignkey")
        for column in ("download_max_views", "download_views", "download_expires_at", "download_hash",
                       "review_reason", "reviewed_by_id", "reviewed_at", "channel"):
            table.drop_column(column)
