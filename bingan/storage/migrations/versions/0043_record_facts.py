"""Statistics at a million records (issue 20): the per-record facts the reports count (record_facts, one
row per discharged inpatient record, read through one covering index), the dirty markers that keep them
up to date (record_facts_dirty) and the triggers that set those markers in every writer's transaction;
the table is filled from the records as they are (records/statistics/facts.py says what each fact is).

Revision ID: 0043
Revises: 0042
"""
from alembic import op
import sqlalchemy as sa


revision = "0043"
down_revision = "0042"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
FLAGS = ("has_paper", "defective", "surgical", "transfusion", "admission_note_24h", "operation_note_in_time",
         "discharge_note_24h", "front_page_24h", "dt04_complete", "dt06_complete")

# table -> (how a row names its record, the columns whose update can change a fact)
WATCHED = {
    "records": ("id", ("visit_type", "discharged_at", "discharge_department_id", "campus_id", "kind",
                       "discharge_method", "admitted_at", "submitted_at", "discharge_reviewed_at", "archived_at",
                       "front_page")),
    "documents": ("record_id", ("record_id", "document_type_id", "removed", "current_version_id", "written_at",
                                "signed_at", "origin")),
    "operations": ("record_id", ("record_id", "performed_at")),
    "scan_pages": ("record_id", ("record_id",)),
    "check_runs": ("record_id", ("record_id",)),
    "check_findings": ("run_id", ("run_id", "check", "severity")),
    "record_marks": ("record_id", ("record_id", "kind", "state")),
    "final_scores": ("record_id", ("record_id", "status", "grade", "scored_at")),
}


def _record_of(row: str, column: str) -> str:
    """SQL selecting the record id of OLD or NEW (a check finding's through its run), nothing if NULL."""
    if column == "run_id":
        return f"SELECT record_id FROM check_runs WHERE id = {row}.run_id"
    return f"SELECT {row}.{column} WHERE {row}.{column} IS NOT NULL"


def _sqlite_triggers() -> list[str]:
    statements = []
    for table, (column, watched) in WATCHED.items():
        listed = ", ".join(f'"{name}"' for name in watched)
        mark = "INSERT INTO record_facts_dirty (record_id) "
        statements += [
            f"CREATE TRIGGER record_facts_{table}_insert AFTER INSERT ON {table} "
            f"BEGIN {mark}{_record_of('NEW', column)}; END",
            f"CREATE TRIGGER record_facts_{table}_update AFTER UPDATE OF {listed} ON {table} "
            f"BEGIN {mark}{_record_of('OLD', column)}; {mark}{_record_of('NEW', column)}; END",
            f"CREATE TRIGGER record_facts_{table}_delete AFTER DELETE ON {table} "
            f"BEGIN {mark}{_record_of('OLD', column)}; END",
        ]
    return statements


def _postgresql_triggers() -> list[str]:
    statements = []
    for table, (column, watched) in WATCHED.items():
        listed = ", ".join(f'"{name}"' for name in watched)
        mark = "INSERT INTO record_facts_dirty (record_id) "
        statements += [
            f"CREATE FUNCTION record_facts_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP <> 'INSERT' THEN {mark}{_record_of('OLD', column)}; END IF; "
            f"IF TG_OP <> 'DELETE' THEN {mark}{_record_of('NEW', column)}; END IF; "
            "RETURN NULL; END $$",
            f"CREATE TRIGGER record_facts_{table}_write AFTER INSERT OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION record_facts_{table}()",
            f"CREATE TRIGGER record_facts_{table}_update AFTER UPDATE OF {listed} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION record_facts_{table}()",
        ]
    return statements


def upgrade() -> None:
    op.create_table(
        "record_facts",
        sa.Column("record_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("discharged_at", WHEN, nullable=False),
        sa.Column("department_id", sa.Integer()),
        sa.Column("campus_id", sa.Integer()),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("deadline_kind", sa.String(16), nullable=False),
        sa.Column("submitted_at", WHEN),
        sa.Column("discharge_reviewed_at", WHEN),
        sa.Column("archived_at", WHEN),
        *(sa.Column(flag, sa.Boolean(), nullable=False) for flag in FLAGS),
        sa.Column("grade", sa.String(2)),
        sa.PrimaryKeyConstraint("record_id", name="pk_record_facts"),
    )
    op.create_index("ix_record_facts_discharged", "record_facts",
                    ["discharged_at", "department_id", "campus_id", "kind", "deadline_kind", "submitted_at",
                     "discharge_reviewed_at", "archived_at", *FLAGS, "grade", "record_id"])
    op.create_table(
        "record_facts_dirty",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_record_facts_dirty"),
    )
    bind = op.get_bind()
    for statement in _postgresql_triggers() if bind.dialect.name == "postgresql" else _sqlite_triggers():
        bind.exec_driver_sql(statement)
    from bingan.records.statistics import facts  # the one definition of each fact

    facts.rebuild(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in WATCHED:
        if bind.dialect.name == "postgresql":
            bind.exec_driver_sql(f"DROP TRIGGER record_facts_{table}_write ON {table}")
            bind.exec_driver_sql(f"DROP TRIGGER record_facts_{table}_update ON {table}")
            bind.exec_driver_sql(f"DROP FUNCTION record_facts_{table}()")
        else:
            for event in ("insert", "update", "delete"):
                bind.exec_driver_sql(f"DROP TRIGGER record_facts_{table}_{event}")
    op.drop_table("record_facts_dirty")
    op.drop_index("ix_record_facts_discharged", table_name="record_facts")
    op.drop_table("record_facts")
