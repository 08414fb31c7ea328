"""Identity and trust (issue 18): OCSP answers kept until they expire, shared by every document a
certificate signed and every process; the signed archive copy (PDF) beside an archive signature.

Revision ID: 0041
Revises: 0040
"""
from alembic import op
import sqlalchemy as sa


revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ocsp_answers",
        sa.Column("issuer_key_hash", sa.String(40), nullable=False),
        sa.Column("serial", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("responder", sa.String(500), nullable=False),
        sa.Column("revoked_at", WHEN),
        sa.Column("revocation_reason", sa.String(32), nullable=False),
        sa.Column("this_update", WHEN),
        sa.Column("next_update", WHEN),
        sa.Column("asked_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("issuer_key_hash", "serial", name="pk_ocsp_answers"),
    )
    op.create_index("ix_ocsp_answers_expires_at", "ocsp_answers", ["expires_at"])
    with op.batch_alter_table("archive_signatures") as batch:
        batch.add_column(sa.Column("copy_sha256", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("archive_signatures") as batch:
        batch.drop_column("copy_sha256")
    op.drop_index("ix_ocsp_answers_expires_at", "ocsp_answers")
    op.drop_table("ocsp_answers")
