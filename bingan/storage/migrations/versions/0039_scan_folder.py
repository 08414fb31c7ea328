"""Paper records (issue 16): files the watched scanner folder filed (never twice), and review
(scan.review) separated from capture (scan.capture) — a role that could capture keeps reviewing.

Revision ID: 0039
Revises: 0038
"""
from alembic import op
import sqlalchemy as sa


revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
CAPTURE, REVIEW = "scan.capture", "scan.review"


def upgrade() -> None:
    op.create_table(
        "scan_folder_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("record_id", sa.Integer(), sa.ForeignKey(
            "records.id", name="fk_scan_folder_files_record_id_records", ondelete="SET NULL")),
        sa.Column("category_id", sa.Integer(), sa.ForeignKey(
            "categories.id", name="fk_scan_folder_files_category_id_categories"), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_scan_folder_files_operator_id_users")),
        sa.Column("filed_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scan_folder_files"),
        sa.UniqueConstraint("sha256", name="uq_scan_folder_files_sha256"),
    )
    roles, bind = _roles(), op.get_bind()
    for role_id, permissions in bind.execute(sa.select(roles.c.id, roles.c.permissions)).all():
        if CAPTURE in (permissions or []) and REVIEW not in permissions:
            bind.execute(roles.update().where(roles.c.id == role_id).values(permissions=[*permissions, REVIEW]))


def _roles() -> sa.Table:
    return sa.table("roles", sa.column("id", sa.Integer()), sa.column("permissions", sa.JSON()))


def downgrade() -> None:
    roles, bind = _roles(), op.get_bind()
    for role_id, permissions in bind.execute(sa.select(roles.c.id, roles.c.permissions)).all():
        if REVIEW in (permissions or []):
            kept = [code for code in permissions if code != REVIEW]
            if CAPTURE not in kept:
                kept.append(CAPTURE)  # a reviewer-only role keeps the one right that held review before
            bind.execute(roles.update().where(roles.c.id == role_id).values(permissions=kept))
    op.drop_table("scan_folder_files")
