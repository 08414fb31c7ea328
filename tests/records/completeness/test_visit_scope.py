"""适用范围 on SQLite and PostgreSQL: categories, document types and departments say whether they
apply to inpatient stays, outpatient visits or both; an outpatient visit is not asked for what applies
to inpatients only, and the capture page offers only the categories that apply to the record."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from completeness_support import CLERK, ORDINARY, department, make_record

from bingan.errors import NotFound, Refusal
from bingan.records.completeness import rules, visit_scope
from bingan.records.digitisation import service as capture
from bingan.storage.models import AuditEvent, Category, DocumentType
from bingan.storage.models.completeness import CompletenessRule


def _missing(session, record) -> list[str]:
    return [u.rule.name for u in rules.unmet(session, record, rules.present_documents(session, record.id))]


def _rule(session, name: str) -> CompletenessRule:
    return session.scalars(sa.select(CompletenessRule).where(CompletenessRule.name == name)).one()


def _outpatient(session, number: str = "0100002", documents=()):
    record = make_record(session, number, documents=documents)
    record.visit_type = "outpatient"
    session.flush()
    return record


def test_everything_applies_to_both_visit_types_until_the_record_room_says_otherwise(session):
    assert set(session.scalars(sa.select(Category.visit_scope))) == {"both"}
    assert set(session.scalars(sa.select(DocumentType.visit_scope))) == {"both"}
    assert department(session).visit_scope == "both"
    inpatient, outpatient = make_record(session, documents=()), _outpatient(session)
    assert _missing(session, outpatient) == _missing(session, inpatient)


def test_an_outpatient_visit_is_not_asked_for_an_inpatient_only_category(session):
    chart = _rule(session, "体温单").category
    visit_scope.set_scope(session, CLERK, "category", chart.id, "inpatient")
    for dtype in chart.document_types:
        visit_scope.set_scope(session, CLERK, "document_type", dtype.id, "inpatient")
    assert "体温单" not in _missing(session, _outpatient(session))
    assert "体温单" in _missing(session, make_record(session, documents=tuple(d for d in ORDINARY if d != "体温单")))


def test_a_rule_still_applies_when_one_of_its_document_types_applies_to_outpatients(session):
    lung = session.scalars(sa.select(DocumentType).where(DocumentType.name == "肺功能报告")).one()
    chart = _rule(session, "体温单").category
    rules.save_rule(session, CLERK, rules.RuleInput("体温单或肺功能报告", "all", [lung.id], category_id=chart.id))
    visit_scope.set_scope(session, CLERK, "category", chart.id, "inpatient")
    assert "体温单或肺功能报告" in _missing(session, _outpatient(session))
    visit_scope.set_scope(session, CLERK, "document_type", lung.id, "inpatient")
    assert "体温单或肺功能报告" not in _missing(session, _outpatient(session, "0100003"))


def test_a_rule_of_only_inpatient_document_types_is_not_asked_of_an_outpatient_visit(session):
    lung = session.scalars(sa.select(DocumentType).where(DocumentType.name == "肺功能报告")).one()
    rules.save_rule(session, CLERK, rules.RuleInput("肺功能报告", "all", [lung.id]))
    visit_scope.set_scope(session, CLERK, "document_type", lung.id, "inpatient")
    assert "肺功能报告" not in _missing(session, _outpatient(session))
    visit_scope.set_scope(session, CLERK, "document_type", lung.id, "outpatient")
    assert "肺功能报告" in _missing(session, _outpatient(session, "0100003"))


def test_a_department_rule_of_an_inpatient_only_ward_is_not_asked_of_its_outpatient_visits(session):
    ward = department(session)
    lung = session.scalars(sa.select(DocumentType.id).where(DocumentType.name == "肺功能报告")).one()
    rules.save_rule(session, CLERK, rules.RuleInput("肺功能报告", "all", [lung], department_id=ward.id))
    visit_scope.set_scope(session, CLERK, "department", ward.id, "inpatient")
    assert "肺功能报告" not in _missing(session, _outpatient(session))
    assert "肺功能报告" in _missing(session, make_record(session))


def test_the_capture_page_offers_only_the_categories_of_the_records_visit_type(session):
    everything = capture.capture_categories(session)
    chart = _rule(session, "体温单").category
    visit_scope.set_scope(session, CLERK, "category", chart.id, "inpatient")
    outpatient = [c.code for c in capture.capture_categories(session, "outpatient")]
    assert chart.code not in outpatient
    assert outpatient == [c.code for c in everything if c.code != chart.code]
    assert chart.code in [c.code for c in capture.capture_categories(session, "inpatient")]
    with pytest.raises(Refusal, match="不适用于门诊病案"):
        capture.category_by_code(session, chart.code, "outpatient")
    assert capture.category_by_code(session, chart.code, "inpatient") == chart


def test_a_scope_change_is_audited_with_before_and_after(session):
    chart = _rule(session, "体温单").category
    visit_scope.set_scope(session, CLERK, "category", chart.id, "inpatient")
    event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "completeness.visit_scope")).one()
    assert (event.object_type, event.object_id) == ("category", str(chart.id))
    assert event.detail == {"病案分类": chart.name, "修改前": "住院和门诊", "修改后": "仅住院"}


@pytest.mark.parametrize(("kind", "scope", "error"), [
    ("category", "emergency", Refusal), ("ward", "both", Refusal), ("department", "both", NotFound)])
def test_an_unknown_scope_kind_or_row_is_refused(session, kind, scope, error):
    with pytest.raises(error):
        visit_scope.set_scope(session, CLERK, kind, 999999, scope)
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "completeness.visit_scope")) == 0
