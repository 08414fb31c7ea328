"""适用范围 (issue 17 item 1): whether a department, category or document type applies to inpatient
stays, outpatient visits or both. The completeness rules skip what does not apply to a record's visit
type, and the capture page offers only the categories that apply to the record being captured.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.errors import NotFound, Refusal
from bingan.storage.models import Category, Department, DocumentType
from bingan.storage.models.organisation import VISIT_SCOPES

KINDS: dict[str, tuple[type, str]] = {
    "category": (Category, "病案分类"),
    "document_type": (DocumentType, "文书类型"),
    "department": (Department, "科室"),
}


def listing(session: Session) -> dict[str, list]:
    """Every category, document type and department with its scope, in the order the record room knows."""
    return {
        "category": list(session.scalars(sa.select(Category).order_by(Category.filing_order, Category.id))),
        "document_type": list(session.scalars(sa.select(DocumentType)
                                              .order_by(DocumentType.category_id, DocumentType.filing_order,
                                                        DocumentType.id))),
        "department": list(session.scalars(sa.select(Department).order_by(Department.code))),
    }


def set_scope(session: Session, actor: Actor, kind: str, item_id: int,
              scope: str) -> Category | DocumentType | Department:
    """Change one row's visit scope; audited with the before and after."""
    if kind not in KINDS:
        raise Refusal("只能设置病案分类、文书类型或科室的适用范围")
    if scope not in VISIT_SCOPES:
        raise Refusal("适用范围应为：住院和门诊、仅住院、仅门诊")
    model, title = KINDS[kind]
    item = session.get(model, item_id)
    if item is None:
        raise NotFound(f"{title}不存在")
    before = item.visit_scope
    item.visit_scope = scope
    session.flush()
    record_event(session, actor, "completeness.visit_scope", object_type=kind, object_id=item.id,
                 detail={title: item.name, "修改前": VISIT_SCOPES.get(before, before), "修改后": VISIT_SCOPES[scope]})
    return item
