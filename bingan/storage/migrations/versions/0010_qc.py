"""Archive QC: reviews, comments, replies (issue 14).

Revision ID: 0010
Revises: 0009
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

NOW = {"nullable": False}
WHEN = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, **kwargs) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}", **kwargs)


def upgrade() -> None:
    op.create_table(
        "qc_reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_id", sa.Integer(), _fk("qc_reviews", "record_id", "records", ondelete="CASCADE"), **NOW),
        sa.Column("flow_name", sa.String(100), **NOW), sa.Column("steps", sa.JSON(), **NOW),
        sa.Column("current_step", sa.Integer(), **NOW), sa.Column("status", sa.String(16), **NOW),
        sa.Column("assigned_to_id", sa.Integer(), _fk("qc_reviews", "assigned_to_id", "users")),
        sa.Column("started_at", WHEN, **NOW), sa.Column("finished_at", WHEN),
        sa.Column("passed_by_id", sa.Integer(), _fk("qc_reviews", "passed_by_id", "users")),
        sa.Column("override_reason", sa.Text(), **NOW),
    )
    op.create_index("ix_qc_reviews_record", "qc_reviews", ["record_id", "status"])
    op.create_index("ix_qc_reviews_assigned", "qc_reviews", ["assigned_to_id", "status"])
    op.create_table(
        "qc_returns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_id", sa.Integer(), _fk("qc_returns", "record_id", "records", ondelete="CASCADE"), **NOW),
        sa.Column("review_id", sa.Integer(), _fk("qc_returns", "review_id", "qc_reviews", ondelete="CASCADE"), **NOW),
        sa.Column("step", sa.Integer(), **NOW),
        sa.Column("returned_by_id", sa.Integer(), _fk("qc_returns", "returned_by_id", "users"), **NOW),
        sa.Column("returned_at", WHEN, **NOW), sa.Column("resubmitted_at", WHEN),
        sa.Column("resubmitted_by_id", sa.Integer(), _fk("qc_returns", "resubmitted_by_id", "users")),
    )
    op.create_index("ix_qc_returns_record_id", "qc_returns", ["record_id"])
    op.create_index("ix_qc_returns_review_id", "qc_returns", ["review_id"])
    op.create_table(
        "qc_return_owners",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("return_id", sa.Integer(),
                  _fk("qc_return_owners", "return_id", "qc_returns", ondelete="CASCADE"), **NOW),
        sa.Column("user_id", sa.Integer(), _fk("qc_return_owners", "user_id", "users", ondelete="CASCADE"), **NOW),
        sa.Column("kinds", sa.JSON(), **NOW),
        sa.UniqueConstraint("return_id", "user_id", name="uq_qc_return_owners_return_id_user_id"),
    )
    op.create_index("ix_qc_return_owners_user", "qc_return_owners", ["user_id"])
    op.create_table(
        "qc_comments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_id", sa.Integer(), _fk("qc_comments", "record_id", "records", ondelete="CASCADE"), **NOW),
        sa.Column("review_id", sa.Integer(), _fk("qc_comments", "review_id", "qc_reviews", ondelete="CASCADE"), **NOW),
        sa.Column("document_id", sa.Integer(), _fk("qc_comments", "document_id", "documents"), **NOW),
        sa.Column("version_id", sa.Integer(), _fk("qc_comments", "version_id", "versions")),
        sa.Column("page", sa.Integer(), **NOW), sa.Column("kind", sa.String(16), **NOW),
        sa.Column("text", sa.Text(), **NOW), sa.Column("step", sa.Integer(), **NOW),
        sa.Column("author_id", sa.Integer(), _fk("qc_comments", "author_id", "users"), **NOW),
        sa.Column("created_at", WHEN, **NOW),
        sa.Column("return_id", sa.Integer(), _fk("qc_comments", "return_id", "qc_returns", ondelete="SET NULL")),
        sa.Column("reply", sa.Text(), **NOW),
        sa.Column("replied_by_id", sa.Integer(), _fk("qc_comments", "replied_by_id", "users")),
        sa.Column("replied_at", WHEN),
    )
    op.create_index("ix_qc_comments_record", "qc_comments", ["record_id", "return_id"])
    op.create_index("ix_qc_comments_review_id", "qc_comments", ["review_id"])


def downgrade() -> None:
    for table in ("qc_comments", "qc_return_owners", "qc_returns", "qc_reviews"):
        op.drop_table(table)
