"""Share links and copy ledgers (限时分享链接, 收费台账与复印统计): share links with their openings,
indexes for the ledgers' periods; copy.ledger given to the built-in roles (issue 15 items 6–7).

Revision ID: 0029
Revises: 0028
"""
from alembic import op
import sqlalchemy as sa

from bingan.storage.migrate import give_permissions, take_permissions


revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

NOT_NULL = {"nullable": False}
WHEN = sa.DateTime(timezone=True)

# A snapshot of what bingan.access.permissions.ROLE_DEFAULTS added at this revision.
GIVEN = {"archivist": ["copy.ledger"], "medical_affairs": ["copy.ledger"], "copy_clerk": ["copy.ledger"]}
LEDGER_TIMES = ("paid_at", "refunded_at", "printed_at")


def _fk(target: str, name: str, **kw) -> sa.ForeignKey:
    return sa.ForeignKey(target, name=name, **kw)


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), **NOT_NULL),
        sa.Column("record_id", sa.Integer(), _fk("records.id", "fk_share_links_record_id_records", ondelete="CASCADE"),
                  **NOT_NULL),
        sa.Column("recipient", sa.String(50), **NOT_NULL), sa.Column("purpose", sa.String(100), **NOT_NULL),
        sa.Column("categories", sa.JSON(), **NOT_NULL), sa.Column("items", sa.JSON(), **NOT_NULL),
        sa.Column("expires_at", WHEN, **NOT_NULL),
        sa.Column("max_views", sa.Integer(), **NOT_NULL), sa.Column("views", sa.Integer(), **NOT_NULL),
        sa.Column("created_by_id", sa.Integer(), _fk("users.id", "fk_share_links_created_by_id_users"), **NOT_NULL),
        sa.Column("created_at", WHEN, **NOT_NULL),
        sa.Column("revoked_at", WHEN),
        sa.Column("revoked_by_id", sa.Integer(), _fk("users.id", "fk_share_links_revoked_by_id_users")),
        sa.UniqueConstraint("token_hash", name="uq_share_links_token_hash"),
    )
    op.create_index("ix_share_links_record_id", "share_links", ["record_id"])
    op.create_table(
        "share_link_openings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("link_id", sa.Integer(),
                  _fk("share_links.id", "fk_share_link_openings_link_id_share_links", ondelete="CASCADE"), **NOT_NULL),
        sa.Column("key_hash", sa.String(64), **NOT_NULL),
        sa.Column("client_ip", sa.String(64), **NOT_NULL), sa.Column("user_agent", sa.String(255), **NOT_NULL),
        sa.Column("opened_at", WHEN, **NOT_NULL),
        sa.UniqueConstraint("key_hash", name="uq_share_link_openings_key_hash"),
    )
    op.create_index("ix_share_link_openings_link_id", "share_link_openings", ["link_id"])
    for column in LEDGER_TIMES:
        op.create_index(f"ix_copy_requests_{column}", "copy_requests", [column])
    give_permissions(op.get_bind(), GIVEN)


def downgrade() -> None:
    take_permissions(op.get_bind(), GIVEN)
    for column in LEDGER_TIMES:
        op.drop_index(f"ix_copy_requests_{column}", table_name="copy_requests")
    op.drop_table("share_link_openings")
    op.drop_table("share_links")
