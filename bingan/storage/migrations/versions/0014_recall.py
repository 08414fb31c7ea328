"""Recall: recalls, pinned backups, re-collection requests (issue 13).

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recalls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_id", sa.Integer(), sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("approval_requests.id", ondelete="CASCADE"),
                  nullable=False, unique=True),
        sa.Column("applicant_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("document_ids", sa.JSON(), nullable=False),
        sa.Column("deadline_days", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("recalled_at", WHEN, nullable=False),
        sa.Column("deadline", WHEN, nullable=False),
        sa.Column("reminded_at", WHEN, nullable=True),
        sa.Column("overdue_at", WHEN, nullable=True),
        sa.Column("resubmitted_at", WHEN, nullable=True),
    )
    op.create_index("ix_recalls_record", "recalls", ["record_id", "state"])
    op.create_index("ix_recalls_state_deadline", "recalls", ["state", "deadline"])
    op.create_table(
        "recall_backups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recall_id", sa.Integer(), sa.ForeignKey("recalls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("document_id", sa.Integer(), sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("versions.id"), nullable=False),
        sa.UniqueConstraint("recall_id", "document_id"),
    )
    op.create_index("ix_recall_backups_recall_id", "recall_backups", ["recall_id"])
    op.create_table(
        "recollection_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_id", sa.Integer(), sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
        sa.Column("recall_id", sa.Integer(), sa.ForeignKey("recalls.id", ondelete="CASCADE"), nullable=True),
        sa.Column("every_minutes", sa.Integer(), nullable=False),
        sa.Column("next_at", WHEN, nullable=False),
        sa.Column("last_at", WHEN, nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("closed_at", WHEN, nullable=True),
    )
    op.create_index("ix_recollection_requests_due", "recollection_requests", ["closed_at", "next_at"])
    op.create_index("ix_recollection_requests_record_id", "recollection_requests", ["record_id"])
    op.create_table(
        "source_notices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_name", sa.String(64), nullable=False),
        sa.Column("record_id", sa.Integer(), sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("delivered_at", WHEN, nullable=True),
    )
    op.create_index("ix_source_notices_source", "source_notices", ["source_name", "delivered_at"])
    op.create_index("ix_source_notices_record_id", "source_notices", ["record_id"])


def downgrade() -> None:
    op.drop_table("source_notices")
    op.drop_table("recollection_requests")
    op.drop_table("recall_backups")
    op.drop_table("recalls")
