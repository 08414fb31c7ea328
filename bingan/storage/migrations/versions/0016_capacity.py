"""Daily samples of each blob volume's use: growth rate and days until full (issue 19, V10).

Revision ID: 0016
Revises: 0015
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "volume_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("sampled_on", sa.Date(), nullable=False),
        sa.Column("used_bytes", sa.BigInteger(), nullable=False),
        sa.Column("free_bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_volume_samples"),
        sa.UniqueConstraint("path", "sampled_on", name="uq_volume_samples_path_sampled_on"),
    )


def downgrade() -> None:
    op.drop_table("volume_samples")
