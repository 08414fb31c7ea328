"""Completeness rules (G1–G2) on SQLite and PostgreSQL: a record's cases from its own data, the
default rules per case with the 24-hour replacements, department extras, admin edits."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from completeness_support import ADMITTED, CLERK, ORDINARY, add_document, department, make_record

from bingan.errors import Refusal
from bingan.records.completeness import rules
from bingan.records.completeness.checks import missing_categories
from bingan.storage.models import AuditEvent, DocumentType, Operation
from bingan.storage.models.completeness import CompletenessRule

SURGERY = ("术前小结", "手术知情同意书", "麻醉知情同意书", "麻醉术前访视记录", "手术安全核查记录", "手术清点记录",
           "麻醉记录", "手术记录", "麻醉术后访视记录", "术后首次病程记录")


def _missing(session, record) -> list[str]:
    return [u.rule.name for u in rules.unmet(session, record, rules.present_documents(session, record.id))]


def _type_id(session, name: str) -> int:
    return session.scalar(sa.select(DocumentType.id).where(DocumentType.name == name))


def test_an_ordinary_stay_with_its_documents_lacks_nothing(session):
    record = make_record(session)
    assert rules.record_cases(record, rules.present_documents(session, record.id)) == {"all"}
    assert _missing(session, record) == []


def test_an_empty_record_lacks_every_hospital_wide_item_in_rule_order(session):
    record = make_record(session, documents=())
    assert _missing(session, record) == ["住院病案首页", "入院记录", "首次病程记录", "上级医师查房记录", "出院记录",
                                         "医嘱单", "体温单", "辅助检查报告"]


def test_a_repeat_admission_record_meets_the_admission_rule(session):
    record = make_record(session, documents=(*(d for d in ORDINARY if d != "入院记录"), "再次或多次入院记录"))
    assert _missing(session, record) == []


# Each case, how the record's data tells it, and what it then requires beyond the ordinary set.
CASES = [
    ("surgery", dict(operation=True), [
        "术前讨论记录或术前小结", "手术知情同意书", "麻醉知情同意书", "麻醉术前访视记录", "手术安全核查记录",
        "手术清点记录", "麻醉记录", "手术记录", "麻醉术后访视记录", "术后首次病程记录"]),
    ("death", dict(method="5"), ["死亡记录", "死亡病例讨论记录"]),
    ("transfusion", dict(documents=("输血记录",)), ["输血治疗知情同意书"]),
    ("rescue", dict(front_page={"抢救次数": "2"}), ["抢救记录"]),
]


@pytest.mark.parametrize(("case", "data", "required"), CASES, ids=[c[0] for c in CASES])
def test_each_case_is_known_from_the_data_and_requires_its_documents(session, case, data, required):
    death = data.get("method") == "5"
    documents = tuple(d for d in ORDINARY if not (death and d == "出院记录")) + data.get("documents", ())
    record = make_record(session, method=data.get("method", "1"), documents=documents)
    if data.get("operation"):
        record.operations = [Operation(seq=0, code="54.2100x001", name="腹腔镜检查", performed_at=ADMITTED)]
    record.front_page = {**record.front_page, **data.get("front_page", {})}
    session.flush()
    assert case in rules.record_cases(record, rules.present_documents(session, record.id))
    assert _missing(session, record) == required


def test_a_death_needs_no_discharge_record(session):
    record = make_record(session, method="5", documents=tuple(d for d in ORDINARY if d != "出院记录"))
    assert "出院记录" not in _missing(session, record)


def test_a_stay_under_24_hours_has_the_24_hour_record_instead_of_admission_and_discharge_records(session):
    record = make_record(session, discharged=ADMITTED + timedelta(hours=23, minutes=59),
                         documents=("住院病案首页", "首次病程记录", "长期医嘱单", "体温单", "检验报告"))
    assert rules.record_cases(record, []) == {"all", "short_stay"}
    assert _missing(session, record) == ["24小时内入出院记录"]
    add_document(session, record, "24小时内入出院记录")
    assert _missing(session, record) == []


def test_a_stay_of_exactly_24_hours_is_not_a_short_stay(session):
    record = make_record(session, discharged=ADMITTED + timedelta(hours=24))
    assert "short_stay" not in rules.record_cases(record, [])


def test_a_death_within_24_hours_has_the_admission_death_record_instead_of_three(session):
    record = make_record(session, method="5", discharged=ADMITTED + timedelta(hours=5),
                         documents=("住院病案首页", "首次病程记录", "长期医嘱单", "体温单", "检验报告",
                                    "死亡病例讨论记录"))
    assert rules.record_cases(record, []) == {"all", "death", "short_stay_death"}
    assert _missing(session, record) == ["24小时内入院死亡记录"]


def test_a_department_extra_applies_to_that_departments_records_only(session):
    record = make_record(session)
    other = department(session, "0302", "呼吸内科")
    rules.save_rule(session, CLERK, rules.RuleInput("肺功能报告", "all", [_type_id(session, "肺功能报告")],
                                                    department_id=other.id))
    assert _missing(session, record) == []
    record.discharge_department_id = other.id
    assert _missing(session, record) == ["肺功能报告"]


def test_an_inactive_rule_is_not_required(session):
    record = make_record(session, documents=tuple(d for d in ORDINARY if d != "体温单"))
    rule = session.scalars(sa.select(CompletenessRule).where(CompletenessRule.name == "体温单")).one()
    rules.save_rule(session, CLERK, rules.RuleInput("体温单", "all", [], category_id=rule.category_id, active=False),
                    rule.id)
    assert _missing(session, record) == []
    assert session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "completeness_rule")).all() \
        == ["completeness.rule_save"]


@pytest.mark.parametrize(("data", "message"), [
    (rules.RuleInput(" ", "all", [1]), "规则名称"),
    (rules.RuleInput("甲", "nobody", [1]), "适用情形无效"),
    (rules.RuleInput("甲", "all", []), "至少选择"),
    (rules.RuleInput("甲", "all", [999999]), "文书类型不存在"),
    (rules.RuleInput("甲", "all", [1], waived_in=["never"]), "免除情形无效"),
])
def test_a_rule_that_cannot_be_checked_is_refused(session, data, message):
    before = session.scalar(sa.select(sa.func.count()).select_from(CompletenessRule))
    with pytest.raises(Refusal, match=message):
        rules.save_rule(session, CLERK, data)
    assert session.scalar(sa.select(sa.func.count()).select_from(CompletenessRule)) == before


def test_missing_categories_names_the_categories_in_filing_order(session):
    record = make_record(session, documents=("住院病案首页", "首次病程记录", "上级医师查房记录", "长期医嘱单"))
    assert missing_categories(session, record) == ["入院记录", "出院记录", "辅助检查报告单", "体温单"]
