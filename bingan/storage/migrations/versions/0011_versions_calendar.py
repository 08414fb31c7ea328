"""Version review, the holiday calendar and archive deadlines (issue 14).

The holiday and make-up-workday table is seeded from the chinesecalendar package for every year
it covers; the administrators enter the later years. Archive deadlines start at 普通 3, 死亡 5,
特殊 7 working days. Records gain 出科审核时间 (discharge_reviewed_at), sent by the EMR, one of
the two bases of the archive-rate report.

Revision ID: 0011
Revises: 0010
"""
from datetime import UTC, datetime

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

DEADLINES = [("normal", "普通病历", 3), ("death", "死亡病历", 5), ("special", "特殊病历", 7)]


def upgrade() -> None:
    now = dict(nullable=False)
    days = op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), **now),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], name="fk_calendar_days_updated_by_id_users"),
        sa.PrimaryKeyConstraint("day", name="pk_calendar_days"),
    )
    years = op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), **now),
        sa.ForeignKeyConstraint(["confirmed_by_id"], ["users.id"], name="fk_calendar_years_confirmed_by_id_users"),
        sa.PrimaryKeyConstraint("year", name="pk_calendar_years"),
    )
    deadlines = op.create_table(
        "archive_deadlines",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), **now),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], name="fk_archive_deadlines_updated_by_id_users"),
        sa.PrimaryKeyConstraint("kind", name="pk_archive_deadlines"),
    )
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("discharge_reviewed_at", sa.DateTime(timezone=True), nullable=True))
    stamp = datetime.now(UTC)
    op.bulk_insert(deadlines, [{"kind": kind, "name": name, "days": count, "updated_at": stamp}
                               for kind, name, count in DEADLINES])
    _seed_calendar(days, years, stamp)


def _seed_calendar(days: sa.Table, years: sa.Table, stamp: datetime) -> None:
    """Every holiday and make-up workday the installed chinesecalendar knows, and its years."""
    from bingan.records.calendar import package_days

    rows = package_days()
    op.bulk_insert(days, [{"day": day, "working": working, "name": name, "source": "chinesecalendar",
                           "updated_at": stamp} for day, working, name in rows])
    covered = sorted({day.year for day, working, _ in rows if not working})
    op.bulk_insert(years, [{"year": year, "source": "chinesecalendar", "confirmed_at": stamp} for year in covered])


def downgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.drop_column("discharge_reviewed_at")
    op.drop_table("archive_deadlines")
    op.drop_table("calendar_years")
    op.drop_table("calendar_days")
