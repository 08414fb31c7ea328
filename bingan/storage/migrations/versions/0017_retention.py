"""Retention rules and the register of destroyed records (issue 19, V5).

Revision ID: 0017
Revises: 0016
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

from bingan.storage.migrate import give_permissions, take_permissions


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# 2013 regulation art. 29 / 电子病历应用管理规范 art. 19: years after the last stay or visit.
DEFAULT_RULES = [("inpatient", "", 30), ("outpatient", "", 15)]


def upgrade() -> None:
    rules = op.create_table(
        "retention_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_type", sa.String(16), nullable=False),
        sa.Column("record_kind", sa.String(16), nullable=False),
        sa.Column("years", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_retention_rules"),
        sa.UniqueConstraint("visit_type", "record_kind", name="uq_retention_rules_visit_type_record_kind"),
    )
    op.create_table(
        "destructions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("last_visit_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("destroyed_by_id", sa.Integer(), nullable=True),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("files_removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_destructions_record_id_records"),
        sa.ForeignKeyConstraint(["request_id"], ["approval_requests.id"],
                                name="fk_destructions_request_id_approval_requests"),
        sa.ForeignKeyConstraint(["destroyed_by_id"], ["users.id"], name="fk_destructions_destroyed_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_destructions"),
        sa.UniqueConstraint("record_id", name="uq_destructions_record_id"),
    )
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    op.bulk_insert(rules, [{"visit_type": visit, "record_kind": kind, "years": years, "updated_at": now}
                           for visit, kind, years in DEFAULT_RULES])
    give_permissions(op.get_bind(), {"archivist": ["retention.manage"]})


def downgrade() -> None:
    take_permissions(op.get_bind(), {"archivist": ["retention.manage"]})
    op.drop_table("destructions")
    op.drop_table("retention_rules")
