"""Notices through WeCom, DingTalk and webhooks (outbox, delivery log, bindings); API tokens and
signed embed links for hospital systems (issue 17, A9 W1–W4 U1).

Revision ID: 0018
Revises: 0017
"""
from alembic import op
import sqlalchemy as sa


revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notice_channels",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(1000), nullable=False),
        sa.Column("access_token", sa.String(1000), nullable=False),
        sa.Column("token_expires_at", AT, nullable=True),
        sa.Column("updated_at", AT, nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_notice_channels"),
    )
    op.create_table(
        "notice_bindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_notice_bindings_user_id_users",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_notice_bindings"),
        sa.UniqueConstraint("user_id", "channel", name="uq_notice_bindings_user_id_channel"),
    )
    op.create_table(
        "notice_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", AT, nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("sent_at", AT, nullable=True),
        sa.Column("error_code", sa.String(32), nullable=False),
        sa.Column("error", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_notice_deliveries_user_id_users",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_notice_deliveries"),
    )
    op.create_index("ix_notice_deliveries_due", "notice_deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "notice_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("at", AT, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error_code", sa.String(32), nullable=False),
        sa.Column("error", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["notice_deliveries.id"],
                                name="fk_notice_attempts_delivery_id_notice_deliveries", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_notice_attempts"),
    )
    op.create_index("ix_notice_attempts_delivery_id", "notice_attempts", ["delivery_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("expires_at", AT, nullable=True),
        sa.Column("last_used_at", AT, nullable=True),
        sa.Column("revoked_at", AT, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_api_tokens_user_id_users"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name="fk_api_tokens_created_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_table(
        "embed_systems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("secret", sa.String(1000), nullable=False),
        sa.Column("origins", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_embed_systems"),
        sa.UniqueConstraint("code", name="uq_embed_systems_code"),
    )
    op.create_table(
        "embed_nonces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("expires_at", AT, nullable=False),
        sa.ForeignKeyConstraint(["system_id"], ["embed_systems.id"], name="fk_embed_nonces_system_id_embed_systems",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_embed_nonces"),
        sa.UniqueConstraint("system_id", "nonce", name="uq_embed_nonces_system_id_nonce"),
    )


def downgrade() -> None:
    for table in ("embed_nonces", "embed_systems", "api_tokens", "notice_attempts", "notice_deliveries",
                  "notice_bindings", "notice_channels"):
        op.drop_table(table)
