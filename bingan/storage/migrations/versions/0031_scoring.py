"""Final quality scoring (终末质控, issue 20 items 1–3): scoring standards (versions), sampling
tasks and their records, final scores and deductions; scoring.manage / scoring.review given to the
record room and the QC office. The default standard is stored on first use (records/scoring/defaults.py).

Revision ID: 0031
Revises: 0030
"""
from alembic import op
import sqlalchemy as sa

from bingan.storage.migrate import give_permissions, take_permissions


revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

NOW = {"nullable": False}
WHEN = sa.DateTime(timezone=True)

# A snapshot of what bingan.access.permissions.ROLE_DEFAULTS added at this revision.
GIVEN = {"archivist": ["scoring.manage", "scoring.review"], "qc": ["scoring.manage", "scoring.review"]}


def _fk(table: str, column: str, target: str, **kwargs) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}", **kwargs)


def upgrade() -> None:
    op.create_table(
        "scoring_standards",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), **NOW), sa.Column("version", sa.Integer(), **NOW),
        sa.Column("sections", sa.JSON(), **NOW), sa.Column("thresholds", sa.JSON(), **NOW),
        sa.Column("current", sa.Boolean(), **NOW), sa.Column("origin", sa.String(16), **NOW),
        sa.Column("note", sa.Text(), **NOW),
        sa.Column("created_by_id", sa.Integer(), _fk("scoring_standards", "created_by_id", "users")),
        sa.Column("created_at", WHEN, **NOW),
        sa.UniqueConstraint("name", "version", name="uq_scoring_standards_name_version"),
    )
    op.create_table(
        "scoring_tasks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), **NOW),
        sa.Column("standard_id", sa.Integer(), _fk("scoring_tasks", "standard_id", "scoring_standards"), **NOW),
        sa.Column("rule", sa.JSON(), **NOW), sa.Column("seed", sa.Integer(), **NOW),
        sa.Column("reviewer_ids", sa.JSON(), **NOW), sa.Column("status", sa.String(16), **NOW),
        sa.Column("created_by_id", sa.Integer(), _fk("scoring_tasks", "created_by_id", "users")),
        sa.Column("created_at", WHEN, **NOW),
    )
    op.create_table(
        "scoring_task_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task_id", sa.Integer(), _fk("scoring_task_records", "task_id", "scoring_tasks", ondelete="CASCADE"),
                  **NOW),
        sa.Column("record_id", sa.Integer(), _fk("scoring_task_records", "record_id", "records", ondelete="CASCADE"),
                  **NOW),
        sa.Column("reviewer_id", sa.Integer(), _fk("scoring_task_records", "reviewer_id", "users"), **NOW),
        sa.Column("seq", sa.Integer(), **NOW),
        sa.UniqueConstraint("task_id", "record_id", name="uq_scoring_task_records_task_id_record_id"),
    )
    op.create_index("ix_scoring_task_records_record_id", "scoring_task_records", ["record_id"])
    op.create_index("ix_scoring_task_records_reviewer", "scoring_task_records", ["reviewer_id", "task_id"])
    op.create_table(
        "final_scores",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_id", sa.Integer(), _fk("final_scores", "record_id", "records", ondelete="CASCADE"), **NOW),
        sa.Column("task_id", sa.Integer(), _fk("final_scores", "task_id", "scoring_tasks", ondelete="SET NULL")),
        sa.Column("standard_id", sa.Integer(), _fk("final_scores", "standard_id", "scoring_standards"), **NOW),
        sa.Column("reviewer_id", sa.Integer(), _fk("final_scores", "reviewer_id", "users"), **NOW),
        sa.Column("total", sa.Float(), **NOW), sa.Column("grade", sa.String(2), **NOW),
        sa.Column("status", sa.String(8), **NOW), sa.Column("scored_at", WHEN),
        sa.Column("note", sa.Text(), **NOW),
        sa.Column("created_at", WHEN, **NOW), sa.Column("updated_at", WHEN, **NOW),
        sa.UniqueConstraint("task_id", "record_id", name="uq_final_scores_task_id_record_id"),
    )
    op.create_index("ix_final_scores_record_id", "final_scores", ["record_id"])
    op.create_index("ix_final_scores_status_scored", "final_scores", ["status", "scored_at"])
    op.create_table(
        "score_deductions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("score_id", sa.Integer(), _fk("score_deductions", "score_id", "final_scores", ondelete="CASCADE"),
                  **NOW),
        sa.Column("item_code", sa.String(32), **NOW), sa.Column("times", sa.Integer(), **NOW),
        sa.Column("document_id", sa.Integer(),
                  _fk("score_deductions", "document_id", "documents", ondelete="SET NULL")),
        sa.Column("page", sa.Integer()), sa.Column("note", sa.Text(), **NOW),
        sa.Column("source", sa.String(16), **NOW), sa.Column("state", sa.String(16), **NOW),
        sa.Column("created_at", WHEN, **NOW),
    )
    op.create_index("ix_score_deductions_score_id", "score_deductions", ["score_id"])
    give_permissions(op.get_bind(), GIVEN)


def downgrade() -> None:
    take_permissions(op.get_bind(), GIVEN)
    op.drop_table("score_deductions")
    op.drop_table("final_scores")
    op.drop_table("scoring_task_records")
    op.drop_table("scoring_tasks")
    op.drop_table("scoring_standards")
