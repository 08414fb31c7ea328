"""Missing and special marks (H9) on SQLite and PostgreSQL: what a mark needs, how open marks show
in the self-check, closing after 补收, the 特殊病案类型 dictionary."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from completeness_support import CLERK, ORDINARY, make_record

from bingan.errors import Conflict, Refusal
from bingan.records.completeness import checks, marks, service
from bingan.storage.models import AuditEvent, Category, DocumentType
from bingan.storage.models.completeness import Mark

LATER = date(2099, 1, 5)


def _type_id(session, name: str) -> int:
    return session.scalar(sa.select(DocumentType.id).where(DocumentType.name == name))


def _missing(session, type_name: str, reason: str = "病理结果未出") -> marks.MarkInput:
    return marks.MarkInput("missing", reason, document_type_id=_type_id(session, type_name), expected_date=LATER)


def test_a_marked_missing_item_turns_its_completeness_error_into_a_warning_and_lets_the_record_in(session):
    record = make_record(session, documents=tuple(d for d in ORDINARY if d != "检验报告"))
    marks.add_mark(session, CLERK, None, record, _missing(session, "检验报告", "外送检验结果未回"))
    report = service.submit(session, CLERK, record)
    assert record.status == "submitted"
    assert [(f.check, f.severity, f.message) for f in report.findings] == [
        ("completeness", "warning", "缺少辅助检查报告（已标记缺项：外送检验结果未回，预计 2099-01-05 补交）"),
        ("marks", "warning", "缺项待补收：检验报告（外送检验结果未回，预计 2099-01-05 补交）"),
    ]


def test_a_category_mark_covers_a_rule_filed_in_that_category(session):
    record = make_record(session, documents=tuple(d for d in ORDINARY if d != "体温单"))
    category = session.scalar(sa.select(Category.id).where(Category.name == "体温单"))
    marks.add_mark(session, CLERK, None, record, marks.MarkInput("missing", "纸质体温单待扫描", category_id=category))
    assert checks.evaluate(session, record)[0].severity == "warning"


def test_closing_a_mark_after_collection_removes_its_warning_and_is_audited(session):
    record = make_record(session)
    mark = marks.add_mark(session, CLERK, None, record, _missing(session, "病理报告"))
    marks.close_mark(session, CLERK, mark, "已补收病理报告")
    assert mark.state == "closed" and marks.open_marks(session, record.id) == []
    assert checks.evaluate(session, record) == []
    assert session.scalars(sa.select(AuditEvent.action).where(AuditEvent.record_id == record.id,
                                                              AuditEvent.object_type == "record_mark")
                           .order_by(AuditEvent.id)).all() == ["mark", "mark_close"]
    with pytest.raises(Conflict, match="已关闭"):
        marks.close_mark(session, CLERK, mark, "再次关闭")


def test_a_special_mark_takes_its_kind_from_the_dictionary(session):
    record = make_record(session)
    mark = marks.add_mark(session, CLERK, None, record, marks.MarkInput("special", "患方投诉", special_kind="医疗纠纷"))
    assert marks.open_marks(session, record.id) == [mark]
    assert [f.message for f in checks.evaluate(session, record)] == ["特殊病案：医疗纠纷（患方投诉）"]
    with pytest.raises(Conflict, match="已标记为特殊病案“医疗纠纷”"):
        marks.add_mark(session, CLERK, None, record, marks.MarkInput("special", "又一次", special_kind="医疗纠纷"))


def test_the_hospital_adds_and_retires_special_kinds(session):
    record = make_record(session)
    kind = marks.add_special_kind(session, CLERK, "新生儿死亡")
    assert "新生儿死亡" in marks.special_kind_names(session)
    marks.set_special_kind_active(session, CLERK, kind.id, False)
    with pytest.raises(Refusal, match="请从特殊病案类型中选择"):
        marks.add_mark(session, CLERK, None, record, marks.MarkInput("special", "x", special_kind="新生儿死亡"))
    with pytest.raises(Conflict, match="已存在"):
        marks.add_special_kind(session, CLERK, "医疗纠纷")


@pytest.mark.parametrize(("data", "message"), [
    (marks.MarkInput("missing", "  ", category_id=1), "请填写原因"),
    (marks.MarkInput("missing", "原因"), "请选择缺少的文书类型或病案分类"),
    (marks.MarkInput("missing", "原因", document_type_id=999999), "文书类型不存在"),
    (marks.MarkInput("missing", "原因", category_id=1, expected_date=date(2020, 1, 1)), "不能早于今天"),
    (marks.MarkInput("special", "原因", special_kind="不存在的类型"), "请从特殊病案类型中选择"),
    (marks.MarkInput("other", "原因"), "标记类型应为"),
])
def test_an_incomplete_mark_is_refused_and_nothing_is_stored(session, data, message):
    record = make_record(session)
    with pytest.raises(Refusal, match=message):
        marks.add_mark(session, CLERK, None, record, data)
    assert session.scalar(sa.select(sa.func.count()).select_from(Mark)) == 0


def test_an_archived_record_cannot_be_marked(session):
    record = make_record(session)
    record.status = "archived"  # the state only; how it got there is the life cycle's business
    with pytest.raises(Conflict, match="已归档"):
        marks.add_mark(session, CLERK, None, record, _missing(session, "病理报告"))
