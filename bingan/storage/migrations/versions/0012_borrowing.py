"""Borrowing: requests, purposes, view tracking (issue 13).

Revision ID: 0012
Revises: 0011
"""
from datetime import UTC, datetime

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# 借阅用途 the record room starts with (it edits them on /borrowing/settings).
PURPOSES = ("临床诊疗参考", "病例讨论", "科研", "教学", "医疗纠纷", "医疗质量检查", "其他")


def _step(name: str, kind: str, value: str = "", escalate_to: str = "") -> dict:
    return {"name": name, "mode": "any", "approvers": [{"kind": kind, "value": value}], "hours": 24,
            "escalate_to": escalate_to}


HEAD = _step("科室审核", "head", escalate_to="medical_affairs")
AFFAIRS = _step("医务处审批", "role", "medical_affairs")
DIRECTOR = _step("病案室主任审批", "role", "archivist")
# The shipped borrowing flows, first match wins: confidential or restricted-tagged (dispute…)
# records need the record room's director too; another department's record its head and 医务处;
# the applicant's own department its head only. Administrators edit them on /admin/flows.
FLOWS = (
    ("借阅：机密病案", 10, {"min_confidentiality": 2}, [HEAD, AFFAIRS, DIRECTOR]),
    ("借阅：受限标签病案（纠纷等）", 20, {"restricted_tag": True}, [HEAD, AFFAIRS, DIRECTOR]),
    ("借阅：外科室病案", 30, {"other_department": True}, [HEAD, AFFAIRS]),
    ("借阅：本科室病案", 40, {}, [HEAD]),
)


def upgrade() -> None:
    fk = sa.ForeignKey
    now = dict(nullable=False)
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("categories", sa.JSON(), nullable=True))
    purposes = op.create_table(
        "borrow_purposes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(50), **now), sa.Column("position", sa.Integer(), **now),
        sa.Column("active", sa.Boolean(), **now),
        sa.UniqueConstraint("name", name="uq_borrow_purposes_name"),
    )
    op.create_table(
        "borrowings",
        sa.Column("id", sa.Integer(), fk("approval_requests.id", ondelete="CASCADE",
                                         name="fk_borrowings_id_approval_requests"), primary_key=True,
                  autoincrement=False),
        sa.Column("batch_id", sa.Integer(), **now),
        sa.Column("applicant_id", sa.Integer(), fk("users.id", name="fk_borrowings_applicant_id_users"), **now),
        sa.Column("record_id", sa.Integer(),
                  fk("records.id", ondelete="CASCADE", name="fk_borrowings_record_id_records"), **now),
        sa.Column("grant_id", sa.Integer(), fk("grants.id", ondelete="SET NULL", name="fk_borrowings_grant_id_grants")),
        sa.Column("purpose", sa.String(50), **now), sa.Column("reason", sa.Text(), **now),
        sa.Column("days", sa.Integer(), **now), sa.Column("categories", sa.JSON(), **now),
        sa.Column("ended_at", sa.DateTime(timezone=True)), sa.Column("end_kind", sa.String(16), **now),
        sa.Column("end_note", sa.Text(), **now), sa.Column("expiry_reminded", sa.Boolean(), **now),
        sa.Column("created_at", sa.DateTime(timezone=True), **now),
    )
    op.create_index("ix_borrowings_applicant", "borrowings", ["applicant_id", "id"])
    op.create_index("ix_borrowings_record", "borrowings", ["record_id"])
    op.create_table(
        "borrow_renewals",
        sa.Column("id", sa.Integer(), fk("approval_requests.id", ondelete="CASCADE",
                                         name="fk_borrow_renewals_id_approval_requests"), primary_key=True,
                  autoincrement=False),
        sa.Column("borrowing_id", sa.Integer(), fk("borrowings.id", ondelete="CASCADE",
                                                   name="fk_borrow_renewals_borrowing_id_borrowings"), **now),
        sa.Column("days", sa.Integer(), **now),
        sa.Column("created_at", sa.DateTime(timezone=True), **now),
    )
    op.create_index("ix_borrow_renewals_borrowing_id", "borrow_renewals", ["borrowing_id"])
    op.bulk_insert(purposes, [{"name": name, "position": (index + 1) * 10, "active": True}
                              for index, name in enumerate(PURPOSES)])
    _ship_flows()


def _ship_flows() -> None:
    """Only where no borrowing flow was saved yet: a hospital's own flows stay as they are."""
    flows = sa.table("approval_flows", sa.column("kind", sa.String()), sa.column("name", sa.String()),
                     sa.column("position", sa.Integer()), sa.column("campus_id", sa.Integer()),
                     sa.column("match", sa.JSON()), sa.column("steps", sa.JSON()),
                     sa.column("active", sa.Boolean()), sa.column("updated_at", sa.DateTime(timezone=True)))
    bind = op.get_bind()
    if bind.scalar(sa.select(sa.func.count()).select_from(flows).where(flows.c.kind == "borrow")):
        return
    op.bulk_insert(flows, [{"kind": "borrow", "name": name, "position": position, "campus_id": None,
                            "match": match, "steps": steps, "active": True, "updated_at": datetime.now(UTC)}
                           for name, position, match, steps in FLOWS])


def downgrade() -> None:
    op.execute("DELETE FROM approval_flows WHERE kind = 'borrow' AND name LIKE '借阅：%'")
    op.drop_table("borrow_renewals")
    op.drop_index("ix_borrowings_record", table_name="borrowings")
    op.drop_index("ix_borrowings_applicant", table_name="borrowings")
    op.drop_table("borrowings")
    op.drop_table("borrow_purposes")
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("categories")
