"""CA-service validation (联机验证, issue 18 item 5): the online checks of the signing certificates
of collected documents' signatures.

Revision ID: 0036
Revises: 0035
"""
from alembic import op
import sqlalchemy as sa


revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signature_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("versions.id", name="fk_signature_checks_version_id_versions", ondelete="CASCADE"), nullable=False),
        sa.Column("signature_index", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("responder", sa.String(500), nullable=False),
        sa.Column("certificate_serial", sa.String(80), nullable=False),
        sa.Column("certificate_subject", sa.String(255), nullable=False),
        sa.Column("certificate_sha256", sa.String(64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revocation_reason", sa.String(32), nullable=False),
        sa.Column("this_update", sa.DateTime(timezone=True)),
        sa.Column("next_update", sa.DateTime(timezone=True)),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signature_checks"),
    )
    op.create_index("ix_signature_checks_version", "signature_checks", ["version_id", "signature_index", "id"])
    op.create_index("ix_signature_checks_checked_at", "signature_checks", ["checked_at"])


def downgrade() -> None:
    op.drop_index("ix_signature_checks_checked_at", "signature_checks")
    op.drop_index("ix_signature_checks_version", "signature_checks")
    op.drop_table("signature_checks")
