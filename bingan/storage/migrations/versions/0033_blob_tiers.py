"""Hot and cold tiers (冷热分层, issue 19 item 3): where each moved blob lives.

Revision ID: 0033
Revises: 0032
"""
from alembic import op
import sqlalchemy as sa


revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

NOW = {"nullable": False}
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "blob_tiers",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("tier", sa.String(8), **NOW),
        sa.Column("volume", sa.String(500), **NOW),
        sa.Column("settled", sa.Boolean(), **NOW),
        sa.Column("reason", sa.String(16), **NOW),
        sa.Column("changed_at", WHEN, **NOW),
        sa.Column("promoted_at", WHEN),
    )
    op.create_index("ix_blob_tiers_tier_settled", "blob_tiers", ["tier", "settled"])


def downgrade() -> None:
    op.drop_table("blob_tiers")
