"""Completeness rules, self-check results, missing and special marks (issue 14).

Seeds the hospital-wide rules of DOMAIN.md §6 (病历书写基本规范 2010) and the special-record kinds;
both are edited later in the UI and never overwritten here.

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SHORT = ["short_stay", "short_stay_death"]
# (name, case, document type names or "category:<name>", waived in these cases)
RULES = [
    ("住院病案首页", "all", ["住院病案首页"], []),
    ("入院记录", "all", ["入院记录", "再次或多次入院记录"], SHORT),
    ("首次病程记录", "all", ["首次病程记录"], []),
    ("上级医师查房记录", "all", ["上级医师查房记录"], SHORT),
    ("出院记录", "all", ["出院记录"], ["death", *SHORT]),
    ("医嘱单", "all", ["category:医嘱单"], []),
    ("体温单", "all", ["category:体温单"], []),
    ("辅助检查报告", "all", ["category:辅助检查报告单"], []),
    ("术前讨论记录或术前小结", "surgery", ["术前讨论记录", "术前小结"], []),
    ("手术知情同意书", "surgery", ["手术知情同意书"], []),
    ("麻醉知情同意书", "surgery", ["麻醉知情同意书"], []),
    ("麻醉术前访视记录", "surgery", ["麻醉术前访视记录"], []),
    ("手术安全核查记录", "surgery", ["手术安全核查记录"], []),
    ("手术清点记录", "surgery", ["手术清点记录"], []),
    ("麻醉记录", "surgery", ["麻醉记录"], []),
    ("手术记录", "surgery", ["手术记录"], []),
    ("麻醉术后访视记录", "surgery", ["麻醉术后访视记录"], []),
    ("术后首次病程记录", "surgery", ["术后首次病程记录"], []),
    ("死亡记录", "death", ["死亡记录"], ["short_stay_death"]),
    ("死亡病例讨论记录", "death", ["死亡病例讨论记录"], []),
    ("24小时内入出院记录", "short_stay", ["24小时内入出院记录"], []),
    ("24小时内入院死亡记录", "short_stay_death", ["24小时内入院死亡记录"], []),
    ("输血治疗知情同意书", "transfusion", ["输血治疗知情同意书"], []),
    ("输血记录", "transfusion", ["输血记录"], []),
    ("抢救记录", "rescue", ["抢救记录"], []),
]
SPECIAL_KINDS = ["医疗纠纷", "司法鉴定", "重大抢救", "传染病报告", "不良事件", "科研病例", "教学病例", "其他"]


def upgrade() -> None:
    now = {"nullable": False}
    op.create_table(
        "completeness_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), **now),
        sa.Column("applies_to", sa.String(24), **now),
        sa.Column("department_id", sa.Integer(),
                  sa.ForeignKey("departments.id", ondelete="CASCADE",
                                name="fk_completeness_rules_department_id_departments")),
        sa.Column("category_id", sa.Integer(),
                  sa.ForeignKey("categories.id", ondelete="CASCADE",
                                name="fk_completeness_rules_category_id_categories")),
        sa.Column("document_type_ids", sa.JSON(), **now),
        sa.Column("waived_in", sa.JSON(), **now),
        sa.Column("active", sa.Boolean(), **now),
        sa.Column("note", sa.String(255), **now),
        sa.Column("created_at", sa.DateTime(timezone=True), **now),
        sa.Column("updated_at", sa.DateTime(timezone=True), **now),
    )
    op.create_index("ix_completeness_rules_applies_to", "completeness_rules", ["applies_to"])
    op.create_table(
        "check_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_id", sa.Integer(),
                  sa.ForeignKey("records.id", ondelete="CASCADE", name="fk_check_runs_record_id_records"), **now),
        sa.Column("run_at", sa.DateTime(timezone=True), **now),
        sa.Column("trigger", sa.String(16), **now),
        sa.Column("passed", sa.Boolean(), **now),
        sa.Column("errors", sa.Integer(), **now),
        sa.Column("warnings", sa.Integer(), **now),
    )
    op.create_index("ix_check_runs_record_run_at", "check_runs", ["record_id", "run_at"])
    op.create_table(
        "check_findings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(),
                  sa.ForeignKey("check_runs.id", ondelete="CASCADE", name="fk_check_findings_run_id_check_runs"),
                  **now),
        sa.Column("seq", sa.Integer(), **now),
        sa.Column("check", sa.String(32), **now),
        sa.Column("severity", sa.String(8), **now),
        sa.Column("message", sa.Text(), **now),
        sa.Column("document_id", sa.Integer(),
                  sa.ForeignKey("documents.id", ondelete="SET NULL", name="fk_check_findings_document_id_documents")),
        sa.Column("page", sa.Integer()),
    )
    op.create_index("ix_check_findings_run_id", "check_findings", ["run_id"])
    kinds = op.create_table(
        "special_record_kinds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), **now),
        sa.Column("position", sa.Integer(), **now),
        sa.Column("active", sa.Boolean(), **now),
        sa.UniqueConstraint("name", name="uq_special_record_kinds_name"),
    )
    op.create_table(
        "record_marks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_id", sa.Integer(),
                  sa.ForeignKey("records.id", ondelete="CASCADE", name="fk_record_marks_record_id_records"), **now),
        sa.Column("kind", sa.String(16), **now),
        sa.Column("category_id", sa.Integer(),
                  sa.ForeignKey("categories.id", name="fk_record_marks_category_id_categories")),
        sa.Column("document_type_id", sa.Integer(),
                  sa.ForeignKey("document_types.id", name="fk_record_marks_document_type_id_document_types")),
        sa.Column("special_kind", sa.String(64), **now),
        sa.Column("reason", sa.Text(), **now),
        sa.Column("expected_date", sa.Date()),
        sa.Column("state", sa.String(8), **now),
        sa.Column("created_by_id", sa.Integer(),
                  sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_record_marks_created_by_id_users")),
        sa.Column("created_by_name", sa.String(64), **now),
        sa.Column("created_at", sa.DateTime(timezone=True), **now),
        sa.Column("closed_by_name", sa.String(64), **now),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("close_note", sa.Text(), **now),
    )
    op.create_index("ix_record_marks_record_state", "record_marks", ["record_id", "state"])
    op.bulk_insert(kinds, [{"name": name, "position": (i + 1) * 10, "active": True}
                           for i, name in enumerate(SPECIAL_KINDS)])
    _seed_rules()


def _seed_rules() -> None:
    """The defaults, resolved against the standard catalogue of 0002 by name (a renamed or
    deleted type is left out of its rule; a rule left with nothing to require is skipped)."""
    bind = op.get_bind()
    types = dict(bind.execute(sa.text("SELECT name, id FROM document_types")).all())
    categories = dict(bind.execute(sa.text("SELECT name, id FROM categories")).all())
    rules = sa.table("completeness_rules", *(sa.column(c) for c in (
        "name", "applies_to", "category_id", "active", "note", "created_at", "updated_at")),
        sa.column("document_type_ids", sa.JSON()), sa.column("waived_in", sa.JSON()))
    now = sa.func.current_timestamp()
    for name, case, wanted, waived in RULES:
        category = next((categories.get(w.split(":", 1)[1]) for w in wanted if w.startswith("category:")), None)
        type_ids = [types[w] for w in wanted if w in types]
        if category is None and not type_ids:
            continue
        bind.execute(rules.insert().values(
            name=name, applies_to=case, category_id=category, document_type_ids=type_ids, waived_in=waived,
            active=True, note="", created_at=now, updated_at=now))


def downgrade() -> None:
    op.drop_table("record_marks")
    op.drop_table("special_record_kinds")
    op.drop_table("check_findings")
    op.drop_table("check_runs")
    op.drop_table("completeness_rules")
