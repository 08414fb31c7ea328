"""The archive signature (归档签章): the local signing adapter's certificates (hospital CA and
reviewers) and each archived record's signature over its manifest, with its timestamp.

Revision ID: 0026
Revises: 0025
"""
from alembic import op
import sqlalchemy as sa


revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("is_ca", sa.Boolean(), nullable=False),
        sa.Column("algorithm", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_signing_certificates_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_signing_certificates"),
    )
    op.create_index("ix_signing_certificates_user", "signing_certificates", ["user_id", "active"])
    op.create_table(
        "archive_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("signer_id", sa.Integer(), nullable=True),
        sa.Column("signer_name", sa.String(100), nullable=False),
        sa.Column("certificate_subject", sa.String(255), nullable=False),
        sa.Column("adapter", sa.String(16), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("signature_sha256", sa.String(64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timestamp_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("timestamp_authority", sa.String(255), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("check_result", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], name="fk_archive_signatures_record_id_records",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["signer_id"], ["users.id"], name="fk_archive_signatures_signer_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_archive_signatures"),
    )
    op.create_index("ix_archive_signatures_record", "archive_signatures", ["record_id", "id"])


def downgrade() -> None:
    op.drop_table("archive_signatures")
    op.drop_table("signing_certificates")
