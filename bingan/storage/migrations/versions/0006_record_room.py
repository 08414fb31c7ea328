"""The record room's groundwork and the search a clinician means: record life cycle, approval flows,
to-dos and messages, search dictionaries, reading tools.

Revision ID: 0006
Revises: 0005
"""
from datetime import UTC, datetime

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

from bingan.storage.migrate import give_permissions


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _lifecycle()
    _approvals()
    _search()
    _reading()


def _lifecycle() -> None:
    """The record life cycle: pending changes of frozen records, and existing records whose
    collection is complete move from 采集中 to 待提交 (the rule of records.lifecycle.close_collections:
    discharged longer ago than the longest collection window of an enabled source, and no item
    of the stay still in the pipeline). Grants already carry revoked_at (0004)."""
    op.create_table(
        "pending_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("new_document", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_pending_changes_record_id_records",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name="fk_pending_changes_document_id_documents",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["version_id"], ["versions.id"], name="fk_pending_changes_version_id_versions",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name="fk_pending_changes_decided_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_pending_changes"),
        sa.UniqueConstraint("version_id", name="uq_pending_changes_version_id"),
    )
    op.create_index("ix_pending_changes_record_state", "pending_changes", ["record_id", "state"])
    _close_finished_collections()
    # the coming workflows' actions (ACTION_RULES)
    give_permissions(op.get_bind(), {"clinician": ["borrow.apply"], "medical_affairs": ["seal.apply", "seal.manage"]})


def _close_finished_collections() -> None:
    from datetime import UTC, datetime, timedelta

    bind = op.get_bind()
    if not sa.inspect(bind).has_table("collected_items"):
        return  # collection (0003, its own branch) comes later: the worker tick's close_collections moves them
    window = bind.execute(sa.text(
        "SELECT MAX(CASE WHEN recollect_days * 24 > collection_delay_hours THEN recollect_days * 24 "
        "ELSE collection_delay_hours END) FROM sources WHERE enabled")).scalar() or 0
    now = datetime.now(UTC)
    bind.execute(sa.text(
        "UPDATE records SET status = 'awaiting', status_changed_at = :now "
        "WHERE status = 'collecting' AND discharged_at IS NOT NULL AND discharged_at <= :until "
        "AND NOT EXISTS (SELECT 1 FROM collected_items c WHERE c.state IN "
        "('pending', 'fetched', 'stored', 'extracted') AND (c.record_id = records.id OR "
        "(c.record_number = records.record_number AND c.stay = records.stay_number "
        "AND c.visit_type = records.visit_type)))"
    ).bindparams(sa.bindparam("now", type_=sa.DateTime(timezone=True)),
                 sa.bindparam("until", type_=sa.DateTime(timezone=True))),
        {"now": now, "until": now - timedelta(hours=int(window))})


def _approvals() -> None:
    """Approval flows, requests, to-dos and messages; the system administrator edits flows."""
    fk = sa.ForeignKey
    now = dict(nullable=False)
    op.create_table(
        "approval_flows",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(32), **now), sa.Column("name", sa.String(100), **now),
        sa.Column("position", sa.Integer(), **now),
        sa.Column("campus_id", sa.Integer(), fk("campuses.id", name="fk_approval_flows_campus_id_campuses")),
        sa.Column("match", sa.JSON(), **now), sa.Column("steps", sa.JSON(), **now),
        sa.Column("active", sa.Boolean(), **now), sa.Column("updated_at", sa.DateTime(timezone=True), **now),
    )
    op.create_index("ix_approval_flows_kind", "approval_flows", ["kind", "position"])
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(32), **now),
        sa.Column("record_id", sa.Integer(),
                  fk("records.id", ondelete="CASCADE", name="fk_approval_requests_record_id_records"), **now),
        sa.Column("applicant_id", sa.Integer(), fk("users.id", name="fk_approval_requests_applicant_id_users"), **now),
        sa.Column("flow_id", sa.Integer(),
                  fk("approval_flows.id", ondelete="SET NULL", name="fk_approval_requests_flow_id_approval_flows")),
        sa.Column("flow_name", sa.String(100), **now), sa.Column("steps", sa.JSON(), **now),
        sa.Column("reason", sa.Text(), **now), sa.Column("payload", sa.JSON(), **now),
        sa.Column("status", sa.String(16), **now), sa.Column("current_step", sa.Integer(), **now),
        sa.Column("round", sa.Integer(), **now), sa.Column("step_started_at", sa.DateTime(timezone=True), **now),
        sa.Column("reminded", sa.Boolean(), **now), sa.Column("escalated", sa.Boolean(), **now),
        sa.Column("outcome_note", sa.Text(), **now), sa.Column("created_at", sa.DateTime(timezone=True), **now),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_approval_requests_applicant", "approval_requests", ["applicant_id", "status"])
    op.create_index("ix_approval_requests_record", "approval_requests", ["record_id", "status"])
    request_fk = "approval_requests.id"
    op.create_table(
        "approval_tasks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(),
                  fk(request_fk, ondelete="CASCADE", name="fk_approval_tasks_request_id_approval_requests"), **now),
        sa.Column("step", sa.Integer(), **now), sa.Column("round", sa.Integer(), **now),
        sa.Column("user_id", sa.Integer(), fk("users.id", ondelete="CASCADE", name="fk_approval_tasks_user_id_users"),
                  **now),
        sa.Column("escalated", sa.Boolean(), **now), sa.Column("created_at", sa.DateTime(timezone=True), **now),
        sa.Column("done_at", sa.DateTime(timezone=True)), sa.Column("outcome", sa.String(16), **now),
    )
    op.create_index("ix_approval_tasks_request_id", "approval_tasks", ["request_id"])
    op.create_index("ix_approval_tasks_open", "approval_tasks", ["user_id", "done_at"])
    op.create_table(
        "approval_actions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(),
                  fk(request_fk, ondelete="CASCADE", name="fk_approval_actions_request_id_approval_requests"), **now),
        sa.Column("step", sa.Integer()), sa.Column("round", sa.Integer(), **now),
        sa.Column("user_id", sa.Integer(), fk("users.id", name="fk_approval_actions_user_id_users")),
        sa.Column("action", sa.String(16), **now), sa.Column("opinion", sa.Text(), **now),
        sa.Column("to_step", sa.Integer()), sa.Column("at", sa.DateTime(timezone=True), **now),
    )
    op.create_index("ix_approval_actions_request_id", "approval_actions", ["request_id"])
    op.create_table(
        "approval_attachments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(),
                  fk(request_fk, ondelete="CASCADE", name="fk_approval_attachments_request_id_approval_requests"),
                  **now),
        sa.Column("uploaded_by_id", sa.Integer(), fk("users.id", name="fk_approval_attachments_uploaded_by_id_users"),
                  **now),
        sa.Column("filename", sa.String(255), **now), sa.Column("media_type", sa.String(100), **now),
        sa.Column("size", sa.Integer(), **now), sa.Column("sha256", sa.String(64), **now),
        sa.Column("at", sa.DateTime(timezone=True), **now),
    )
    op.create_index("ix_approval_attachments_request_id", "approval_attachments", ["request_id"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), fk("users.id", ondelete="CASCADE", name="fk_messages_user_id_users"),
                  **now),
        sa.Column("kind", sa.String(16), **now), sa.Column("title", sa.String(200), **now),
        sa.Column("body", sa.Text(), **now), sa.Column("link", sa.String(255), **now),
        sa.Column("created_at", sa.DateTime(timezone=True), **now), sa.Column("read_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_messages_user_read", "messages", ["user_id", "read_at"])
    give_permissions(op.get_bind(), {"sysadmin": ["flows.manage"]})


def _search() -> None:
    """Search dictionaries: the medical synonym and abbreviation groups, seeded with the defaults
    (bingan.search.synonyms.DEFAULT_GROUPS) once; the hospital edits them afterwards."""
    from bingan.search.synonyms import DEFAULT_GROUPS

    groups = op.create_table(
        "synonym_groups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    now = datetime.now(UTC)
    op.bulk_insert(groups, [{"terms": list(group), "updated_at": now} for group in DEFAULT_GROUPS])


def _reading() -> None:
    """Favourites, tags and the user's own reading tools."""
