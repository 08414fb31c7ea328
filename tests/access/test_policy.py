"""The access gate: every rule gives the expected answer and a Chinese reason for each refusal."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bingan.access.policy import decide, scope_for
from bingan.search.port import PageDoc
from bingan.storage.models import (
    Category,
    CategoryTemplate,
    Document,
    DocumentType,
    IpRule,
    Role,
    TagPermission,
    UserScope,
    utcnow,
)

# role -> states it may view ("granted" only the clinician, through its grant)
EXPECTED_VIEW = {
    "sysadmin": set(), "secadmin": set(), "auditor": set(),
    "archivist": {"normal", "other_department", "granted"},
    "qc": {"normal", "other_department", "granted"},
    "clinician": {"normal", "granted"},
    "nurse": {"normal"},
    "medical_affairs": {"normal", "other_department", "granted"},
    "copy_clerk": {"normal", "other_department", "granted"},
}


@pytest.mark.parametrize("role", list(EXPECTED_VIEW))
def test_view_matrix_by_role_and_record_state(session, world, role):
    user = world.users[role]
    allowed = {state for state, record in world.records.items() if decide(session, user, "view", record)}
    assert allowed == EXPECTED_VIEW[role]


def test_every_refusal_has_a_chinese_reason(session, world):
    clinician = world.users["clinician"]
    reasons = {state: decide(session, clinician, "view", record).reason_zh
               for state, record in world.records.items()}
    assert "封存" in reasons["sealed"]
    assert "密级" in reasons["confidential"]
    assert "科室数据范围" in reasons["other_department"]
    assert "受限标签" in reasons["restricted_tag"]
    assert reasons["normal"] == ""


def test_sealed_refuses_every_action_even_for_the_archivist(session, world):
    archivist = world.users["archivist"]
    for action in ("view", "download", "print", "export", "change"):
        assert not decide(session, archivist, action, world.records["sealed"])


def test_grant_gives_only_its_actions_and_expires(session, world):
    clinician, record = world.users["clinician"], world.records["granted"]
    assert decide(session, clinician, "print", record)
    assert not decide(session, clinician, "download", record)
    from bingan.storage.models import Grant

    grant = session.scalars(sa.select(Grant)).one()
    grant.valid_until = utcnow() - timedelta(minutes=1)
    session.flush()
    assert "科室数据范围" in decide(session, clinician, "view", record).reason_zh


def test_extra_department_scope_and_campus_rights(session, world):
    nurse = world.users["nurse"]
    other = world.records["other_department"]
    assert not decide(session, nurse, "view", other)
    session.add(UserScope(user_id=nurse.id, kind="department", code="0302"))
    session.flush()
    assert decide(session, nurse, "view", other)
    session.add(UserScope(user_id=nurse.id, kind="campus", code="east"))
    session.flush()
    assert "院区" in decide(session, nurse, "view", other).reason_zh


def test_confidentiality_level_of_the_user(session, world):
    archivist = world.users["archivist"]
    archivist.max_confidentiality = 2
    session.flush()
    assert decide(session, archivist, "view", world.records["confidential"])


def test_restricted_tag_permission_by_role(session, world):
    archivist = world.users["archivist"]
    record = world.records["restricted_tag"]
    assert not decide(session, archivist, "view", record)
    role = session.scalars(sa.select(Role).where(Role.code == "archivist")).one()
    session.add(TagPermission(tag_id=record.tags[0].id, role_id=role.id))
    session.flush()
    assert decide(session, archivist, "view", record)


def test_category_template_limits_documents(session, world):
    from world import add_pdf_document

    nurse = world.users["nurse"]
    record = world.records["normal"]
    admission = add_pdf_document(session, record, "入院记录")
    temperature = add_pdf_document(session, record, "体温单")
    role = session.scalars(sa.select(Role).where(Role.code == "nurse")).one()
    chart = session.scalars(sa.select(Category).where(Category.name == "体温单")).one()
    session.add(CategoryTemplate(name="护理", role_id=role.id, category_id=chart.id, actions=["view"]))
    session.flush()
    assert decide(session, nurse, "view", record, document=temperature)
    refusal = decide(session, nurse, "view", record, document=admission)
    assert not refusal and "分类权限模板" in refusal.reason_zh


def test_blocked_and_allowed_addresses(session, world):
    archivist = world.users["archivist"]
    record = world.records["normal"]
    session.add(IpRule(cidr="10.9.0.0/16", kind="block"))
    session.flush()
    assert "禁止" in decide(session, archivist, "view", record, client_ip="10.9.1.2").reason_zh
    assert decide(session, archivist, "view", record, client_ip="10.8.1.2")
    session.add(IpRule(cidr="192.168.0.0/16", kind="allow"))
    session.flush()
    assert "不在允许" in decide(session, archivist, "view", record, client_ip="10.8.1.2").reason_zh
    assert decide(session, archivist, "view", record, client_ip="192.168.3.4")


def test_inactive_and_expired_users_are_refused(session, world):
    archivist = world.users["archivist"]
    archivist.valid_until = utcnow() - timedelta(days=1)
    session.flush()
    assert "有效期" in decide(session, archivist, "view", world.records["normal"]).reason_zh
    archivist.valid_until = None
    archivist.active = False
    assert "停用" in decide(session, archivist, "view", world.records["normal"]).reason_zh


def _page_doc(record, category: str = "C02") -> PageDoc:
    department = record.discharge_department
    return PageDoc(record_id=record.id, record_number=record.record_number, stay=1, document_id=1,
                   version_id=1, page=1, text="", department=department.code, campus=record.campus.code,
                   confidentiality=record.confidentiality, tags=[t.name for t in record.tags],
                   sealed=record.sealed, category=category)


@pytest.mark.parametrize("role", list(EXPECTED_VIEW))
def test_search_scope_admits_exactly_what_the_gate_allows(session, world, role):
    user = world.users[role]
    scope = scope_for(session, user)
    admitted = {state for state, record in world.records.items() if scope.admits(_page_doc(record))}
    assert admitted == EXPECTED_VIEW[role]


def test_search_scope_carries_category_templates(session, world):
    nurse = world.users["nurse"]
    role = session.scalars(sa.select(Role).where(Role.code == "nurse")).one()
    chart = session.scalars(sa.select(Category).where(Category.name == "体温单")).one()
    session.add(CategoryTemplate(role_id=role.id, category_id=chart.id, actions=["view"]))
    session.flush()
    scope = scope_for(session, nurse)
    assert scope.allowed_categories == {chart.code}
    assert session.scalar(sa.select(sa.func.count(Document.id))) == 0
    assert session.scalars(sa.select(DocumentType).where(DocumentType.category_id == chart.id)).first()
