"""Statistics (统计报表与质控指标): monthly indicator inputs, the documents MER-D&T-04/06 require (seeded
from the standard catalogue), saved report definitions; statistics.view and statistics.manage given to
the roles that read reports (issue 20 items 4–6).

Revision ID: 0032
Revises: 0031
"""
from alembic import op
import sqlalchemy as sa

from bingan.storage.migrate import give_permissions, take_permissions


revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

NOT_NULL = {"nullable": False}
WHEN = sa.DateTime(timezone=True)

# A snapshot of what bingan.access.permissions.ROLE_DEFAULTS added at this revision.
GIVEN = {"archivist": ["statistics.view", "statistics.manage"], "qc": ["statistics.view"],
         "medical_affairs": ["statistics.view", "statistics.manage"]}

# (indicator, label, document types of the 0002 catalogue, any one of which meets the item)
REQUIREMENTS = [
    ("MER-D&T-04", "术前讨论或术前小结", ["术前讨论记录", "术前小结"]),
    ("MER-D&T-04", "手术知情同意书", ["手术知情同意书"]),
    ("MER-D&T-04", "麻醉知情同意书", ["麻醉知情同意书"]),
    ("MER-D&T-04", "手术安全核查记录", ["手术安全核查记录"]),
    ("MER-D&T-04", "麻醉记录", ["麻醉记录"]),
    ("MER-D&T-04", "手术记录", ["手术记录"]),
    ("MER-D&T-04", "术后首次病程记录", ["术后首次病程记录"]),
    ("MER-D&T-04", "手术医嘱（临时医嘱单）", ["临时医嘱单"]),
    ("MER-D&T-06", "输血治疗知情同意书", ["输血治疗知情同意书"]),
    ("MER-D&T-06", "输血医嘱（临时医嘱单）", ["临时医嘱单"]),
    ("MER-D&T-06", "输血记录", ["输血记录"]),
]


def upgrade() -> None:
    op.create_table(
        "indicator_inputs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(16), **NOT_NULL), sa.Column("month", sa.String(7), **NOT_NULL),
        sa.Column("numerator", sa.Float()), sa.Column("denominator", sa.Float()),
        sa.Column("note", sa.String(255), **NOT_NULL),
        sa.Column("entered_by_id", sa.Integer(),
                  sa.ForeignKey("users.id", name="fk_indicator_inputs_entered_by_id_users", ondelete="SET NULL")),
        sa.Column("entered_by_name", sa.String(64), **NOT_NULL),
        sa.Column("entered_at", WHEN, **NOT_NULL),
        sa.UniqueConstraint("code", "month", name="uq_indicator_inputs_code_month"),
    )
    requirements = op.create_table(
        "indicator_requirements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("indicator", sa.String(16), **NOT_NULL), sa.Column("position", sa.Integer(), **NOT_NULL),
        sa.Column("label", sa.String(100), **NOT_NULL), sa.Column("document_type_ids", sa.JSON(), **NOT_NULL),
    )
    op.create_index("ix_indicator_requirements_indicator", "indicator_requirements", ["indicator"])
    op.create_table(
        "saved_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), **NOT_NULL), sa.Column("description", sa.Text(), **NOT_NULL),
        sa.Column("definition", sa.JSON(), **NOT_NULL), sa.Column("roles", sa.JSON(), **NOT_NULL),
        sa.Column("created_by_id", sa.Integer(),
                  sa.ForeignKey("users.id", name="fk_saved_reports_created_by_id_users", ondelete="SET NULL")),
        sa.Column("created_by_name", sa.String(64), **NOT_NULL),
        sa.Column("created_at", WHEN, **NOT_NULL), sa.Column("updated_at", WHEN, **NOT_NULL),
        sa.UniqueConstraint("name", name="uq_saved_reports_name"),
    )
    bind = op.get_bind()
    types = dict(bind.execute(sa.text("SELECT name, id FROM document_types")).all())
    rows = []
    for position, (indicator, label, names) in enumerate(REQUIREMENTS):
        ids = [types[name] for name in names if name in types]
        if ids:
            rows.append({"indicator": indicator, "position": position, "label": label, "document_type_ids": ids})
    if rows:
        op.bulk_insert(requirements, rows)
    give_permissions(bind, GIVEN)


def downgrade() -> None:
    take_permissions(op.get_bind(), GIVEN)
    op.drop_table("saved_reports")
    op.drop_index("ix_indicator_requirements_indicator", table_name="indicator_requirements")
    op.drop_table("indicator_requirements")
    op.drop_table("indicator_inputs")
