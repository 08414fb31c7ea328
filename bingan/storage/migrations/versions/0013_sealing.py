"""Sealing: seals, parties, seal packages, the hospital's signing certificate (issue 13).

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

NOT_NULL = {"nullable": False}
WHEN = sa.DateTime(timezone=True)


def _fk(target: str, name: str, **kw) -> sa.ForeignKey:
    return sa.ForeignKey(target, name=name, **kw)


def upgrade() -> None:
    op.create_table(
        "seals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_id", sa.Integer(), _fk("records.id", "fk_seals_record_id_records", ondelete="CASCADE"),
                  **NOT_NULL),
        sa.Column("status", sa.String(16), **NOT_NULL),
        sa.Column("request_id", sa.Integer(), _fk("approval_requests.id", "fk_seals_request_id_approval_requests"),
                  **NOT_NULL),
        sa.Column("reason", sa.Text(), **NOT_NULL), sa.Column("dispute", sa.Text(), **NOT_NULL),
        sa.Column("parties", sa.JSON(), **NOT_NULL), sa.Column("document_ids", sa.JSON()),
        sa.Column("applied_by_id", sa.Integer(), _fk("users.id", "fk_seals_applied_by_id_users"), **NOT_NULL),
        sa.Column("applied_at", WHEN, **NOT_NULL), sa.Column("sealed_at", WHEN),
        sa.Column("sealed_by_id", sa.Integer(), _fk("users.id", "fk_seals_sealed_by_id_users")),
        sa.Column("package_status", sa.String(16), **NOT_NULL), sa.Column("package_job_id", sa.Integer()),
        sa.Column("package_sha256", sa.String(64), **NOT_NULL), sa.Column("package_size", sa.Integer(), **NOT_NULL),
        sa.Column("package_built_at", WHEN), sa.Column("manifest", sa.JSON(), **NOT_NULL),
        sa.Column("unseal_request_id", sa.Integer(),
                  _fk("approval_requests.id", "fk_seals_unseal_request_id_approval_requests")),
        sa.Column("unseal_reason", sa.Text(), **NOT_NULL), sa.Column("unseal_parties", sa.JSON(), **NOT_NULL),
        sa.Column("unsealed_at", WHEN),
        sa.Column("unsealed_by_id", sa.Integer(), _fk("users.id", "fk_seals_unsealed_by_id_users")),
        sa.Column("reminded_at", WHEN),
        sa.UniqueConstraint("request_id", name="uq_seals_request_id"),
    )
    op.create_index("ix_seals_record", "seals", ["record_id", "status"])
    op.create_index("ix_seals_package", "seals", ["package_status"])
    op.create_table(
        "seal_certificates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subject", sa.String(255), **NOT_NULL), sa.Column("fingerprint", sa.String(64), **NOT_NULL),
        sa.Column("certificate", sa.Text(), **NOT_NULL), sa.Column("private_key", sa.Text(), **NOT_NULL),
        sa.Column("source", sa.String(16), **NOT_NULL), sa.Column("active", sa.Boolean(), **NOT_NULL),
        sa.Column("created_at", WHEN, **NOT_NULL),
        sa.UniqueConstraint("fingerprint", name="uq_seal_certificates_fingerprint"),
    )


def downgrade() -> None:
    op.drop_table("seal_certificates")
    op.drop_index("ix_seals_package", table_name="seals")
    op.drop_index("ix_seals_record", table_name="seals")
    op.drop_table("seals")
