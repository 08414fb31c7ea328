"""Completeness rules (完整性规则, G1–G2): which documents an inpatient record needs for archiving,
by case and by department, and which of them a record lacks.

A record's cases come from its own data: operations on the front page (手术), 离院方式 5 or a death
record (死亡), a transfusion record or the front page's transfusion field (输血), a rescue record or
rescue count (抢救), admission and discharge less than 24 hours apart (24小时内入出院 /
24小时内入院死亡). Rules are rows the record room edits (admin page); the migration seeds the
defaults of 病历书写基本规范.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.errors import NotFound, Refusal
from bingan.storage.models import Category, Department, Document, DocumentType, Record
from bingan.storage.models.completeness import RECORD_CASES, CompletenessRule
from bingan.storage.models.organisation import scope_covers

DEATH_METHOD = "5"  # 离院方式 5 死亡 (首页 B34C)
DAY = timedelta(hours=24)
# Standard document types whose presence tells a case (names of the 0002 catalogue).
DEATH_TYPES = frozenset({"死亡记录", "24小时内入院死亡记录"})
SHORT_STAY_TYPES = frozenset({"24小时内入出院记录", "24小时内入院死亡记录"})
TRANSFUSION_TYPES = frozenset({"输血记录"})
RESCUE_TYPES = frozenset({"抢救记录"})
YES = frozenset({"1", "是", "有", "Y", "y", "true"})


def present_documents(session: Session, record_id: int) -> list[Document]:
    """The record's documents as the record room sees them: not withdrawn, with content."""
    return list(session.scalars(
        sa.select(Document).where(Document.record_id == record_id, ~Document.removed,
                                  Document.current_version_id.is_not(None))
        .options(selectinload(Document.document_type), selectinload(Document.current_version))
        .order_by(Document.id)
    ))


def record_cases(record: Record, documents: Iterable[Document]) -> set[str]:
    """The cases (RECORD_CASES keys) this record is, from its front page, times and documents."""
    names = {d.document_type.name for d in documents}
    page = record.front_page or {}
    died = (record.discharge_method == DEATH_METHOD or str(page.get("B34C", "")) == DEATH_METHOD
            or record.kind == "death" or bool(names & DEATH_TYPES))
    cases = {"all"}
    if died:
        cases.add("death")
    if record.operations:
        cases.add("surgery")
    if names & TRANSFUSION_TYPES or str(page.get("输血", "")) in YES:
        cases.add("transfusion")
    if names & RESCUE_TYPES or _count(page.get("抢救次数")) > 0:
        cases.add("rescue")
    if _short_stay(record) or names & SHORT_STAY_TYPES:
        cases.add("short_stay_death" if died else "short_stay")
    return cases


def _short_stay(record: Record) -> bool:
    if record.admitted_at is None or record.discharged_at is None:
        return False
    return clock.instant(record.discharged_at) - clock.instant(record.admitted_at) < DAY


def _count(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def rules(session: Session, *, active_only: bool = True) -> list[CompletenessRule]:
    query = sa.select(CompletenessRule).options(selectinload(CompletenessRule.department),
                                                selectinload(CompletenessRule.category))
    if active_only:
        query = query.where(CompletenessRule.active)
    order = sa.case({case: i for i, case in enumerate(RECORD_CASES)}, value=CompletenessRule.applies_to)
    return list(session.scalars(query.order_by(CompletenessRule.department_id.is_not(None), order,
                                               CompletenessRule.id)))


def applicable(all_rules: Iterable[CompletenessRule], record: Record, cases: set[str],
               type_scopes: dict[int, str] | None = None) -> list[CompletenessRule]:
    """The rules this record must meet: its cases, hospital-wide or its discharge department's, not waived,
    and demanding something that applies to its visit type (an outpatient visit is not asked for an
    inpatient-only category or document type)."""
    return [
        rule for rule in all_rules
        if rule.applies_to in cases
        and rule.department_id in (None, record.discharge_department_id)
        and not cases & set(rule.waived_in or [])
        and fits_visit(rule, record.visit_type, type_scopes or {})
    ]


def fits_visit(rule: CompletenessRule, visit_type: str, type_scopes: dict[int, str]) -> bool:
    """Whether the rule's category, or one of its document types, applies to this visit type (and its
    department, when it names one)."""
    if rule.department is not None and not scope_covers(rule.department.visit_scope, visit_type):
        return False
    if rule.category is not None and scope_covers(rule.category.visit_scope, visit_type):
        return True
    return any(scope_covers(type_scopes.get(t), visit_type) for t in rule.document_type_ids or [])


def type_visit_scopes(session: Session) -> dict[int, str]:
    """Every document type's visit scope, by id."""
    return dict(session.execute(sa.select(DocumentType.id, DocumentType.visit_scope)).all())


def met(rule: CompletenessRule, documents: Iterable[Document]) -> bool:
    wanted = set(rule.document_type_ids or [])
    return any(d.document_type_id in wanted or d.document_type.category_id == rule.category_id
               for d in documents)


@dataclass(frozen=True)
class Unmet:
    rule: CompletenessRule
    category_id: int | None  # where the missing item would be filed
    type_ids: frozenset[int]


def unmet(session: Session, record: Record, documents: list[Document]) -> list[Unmet]:
    """The applicable rules the record's documents do not meet, in rule order."""
    cases = record_cases(record, documents)
    found = [rule for rule in applicable(rules(session), record, cases, type_visit_scopes(session))
             if not met(rule, documents)]
    type_categories = _type_categories(session, {t for rule in found for t in rule.document_type_ids or []})
    return [Unmet(rule, rule.category_id or next((type_categories[t] for t in rule.document_type_ids
                                                   if t in type_categories), None),
                  frozenset(rule.document_type_ids or []))
            for rule in found]


def _type_categories(session: Session, type_ids: set[int]) -> dict[int, int]:
    if not type_ids:
        return {}
    return dict(session.execute(sa.select(DocumentType.id, DocumentType.category_id)
                                .where(DocumentType.id.in_(type_ids))).all())


# --- administration (completeness.manage) ----------------------------------------------------

@dataclass(frozen=True)
class RuleInput:
    name: str
    applies_to: str
    document_type_ids: list[int]
    category_id: int | None = None
    department_id: int | None = None
    waived_in: list[str] | None = None
    active: bool = True
    note: str = ""


def save_rule(session: Session, actor: Actor, data: RuleInput, rule_id: int | None = None) -> CompletenessRule:
    """Add a rule, or change one; audited."""
    _validate(session, data)
    rule = CompletenessRule() if rule_id is None else _rule(session, rule_id)
    if rule_id is None:
        session.add(rule)
    rule.name, rule.applies_to, rule.note = data.name.strip(), data.applies_to, data.note.strip()
    rule.document_type_ids = sorted(set(data.document_type_ids))
    rule.category_id, rule.department_id = data.category_id, data.department_id
    rule.waived_in = [case for case in RECORD_CASES if case in set(data.waived_in or [])]
    rule.active = data.active
    session.flush()
    record_event(session, actor, "completeness.rule_save", object_type="completeness_rule", object_id=rule.id,
                 detail={"规则": rule.name, "适用": RECORD_CASES[rule.applies_to], "启用": rule.active})
    return rule


def delete_rule(session: Session, actor: Actor, rule_id: int) -> None:
    rule = _rule(session, rule_id)
    record_event(session, actor, "completeness.rule_delete", object_type="completeness_rule", object_id=rule.id,
                 detail={"规则": rule.name, "适用": RECORD_CASES.get(rule.applies_to, rule.applies_to)})
    session.delete(rule)


def _rule(session: Session, rule_id: int) -> CompletenessRule:
    rule = session.get(CompletenessRule, rule_id)
    if rule is None:
        raise NotFound("完整性规则不存在")
    return rule


def _validate(session: Session, data: RuleInput) -> None:
    if not data.name.strip():
        raise Refusal("请填写规则名称（缺少时显示给医生的文书名称）")
    if data.applies_to not in RECORD_CASES:
        raise Refusal("适用情形无效")
    unknown = set(data.waived_in or []) - set(RECORD_CASES)
    if unknown:
        raise Refusal("免除情形无效")
    if not data.document_type_ids and data.category_id is None:
        raise Refusal("请至少选择一种文书类型或一个病案分类")
    if data.document_type_ids:
        found = session.scalar(sa.select(sa.func.count()).select_from(DocumentType)
                               .where(DocumentType.id.in_(set(data.document_type_ids))))
        if found != len(set(data.document_type_ids)):
            raise Refusal("所选文书类型不存在")
    if data.category_id is not None and session.get(Category, data.category_id) is None:
        raise Refusal("所选病案分类不存在")
    if data.department_id is not None and session.get(Department, data.department_id) is None:
        raise Refusal("所选科室不存在")
