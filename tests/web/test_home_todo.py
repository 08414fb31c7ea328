"""The home page's to-do list (待办) per role, with its counts in the header: approvals waiting for
me, my open applications, records QC returned to me, failed collections for the collection
monitor, grants ending soon (mine; all of them for grants.manage). The administrator's home and a
clinician's home differ."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bingan.access.audit import Actor
from bingan.records import lifecycle
from bingan.records.approvals import engine
from bingan.storage.db import session_factory
from bingan.storage.models import ApprovalFlow, CollectedItem, Grant, Record, Source, User, utcnow

QC_STEP = [{"name": "质控审核", "mode": "any", "approvers": [{"kind": "role", "value": "qc"}], "hours": 24}]


def card(html: str, card_id: str) -> str:
    """The text of one part of the home page, '' when it is not there."""
    start = html.find(f'id="{card_id}"')
    if start < 0:
        return ""
    return html[start:html.index("</div>" if card_id.startswith("todo-") else "</section>", start)]


def top_link(html: str, path: str) -> str:
    found = re.search(rf'<a href="{re.escape(path)}" class="menu-top">(.*?)</a>', html)
    return found.group(1) if found else ""


def home(client) -> str:
    response = client.get("/?home=1")
    assert response.status_code == 200
    return response.text


@pytest.fixture
def session(web_engine):
    with session_factory(web_engine)() as session:
        yield session


def _user(session, world, role: str) -> User:
    return session.get(User, world.users[role].id)


def test_an_application_is_the_applicants_and_waits_on_the_approvers_home(client_for, session, world):
    session.add(ApprovalFlow(kind="borrow", name="质控审核借阅", position=1, match={}, steps=QC_STEP))
    clinician = _user(session, world, "clinician")
    record = session.get(Record, world.records["other_department"].id)
    request = engine.submit(session, Actor.of(clinician), clinician, "borrow", record, "会诊需要", {"days": 3})
    session.commit()
    mine = home(client_for("clinician"))
    assert f'href="/approvals/{request.id}"' in card(mine, "todo-applications")
    assert "审批中" in card(mine, "todo-applications") and "质控审核" in card(mine, "todo-applications")
    assert top_link(mine, "/approvals?box=mine") == '我的申请 <span class="count">1</span>'
    approver = home(client_for("qc"))
    assert f'href="/approvals/{request.id}"' in card(approver, "todo-approvals")
    assert "测试clinician" in card(approver, "todo-approvals") and card(approver, "todo-applications") == ""


def test_whoever_may_apply_has_my_applications_in_the_menu_even_with_none_open(client_for):
    assert top_link(home(client_for("clinician")), "/approvals?box=mine") == "我的申请"
    assert top_link(home(client_for("nurse")), "/approvals?box=mine") == ""


def test_a_record_returned_by_qc_waits_on_its_doctors_home_and_counts_in_the_header(client_for, session, world):
    record = session.get(Record, world.records["normal"].id)
    lifecycle.move(session, lifecycle.SYSTEM, record, "recalled", "补充出院记录")
    for status in ("submitted", "qc", "returned"):
        lifecycle.move(session, lifecycle.SYSTEM, record, status, "首页诊断编码缺失")
    record.resident_doctor = "测试clinician"
    session.commit()
    doctor = home(client_for("clinician"))
    assert f'href="/records/{record.id}"' in card(doctor, "todo-returned")
    assert top_link(doctor, "/") == '首页 <span class="count">1</span>'
    other = home(client_for("nurse"))  # same department, not the record's doctor
    assert card(other, "todo-returned") == "" and top_link(other, "/") == "首页"


def _failed_item(session, world) -> None:
    source = Source(name="emr", title="电子病历系统")
    session.add(source)
    session.flush()
    session.add(CollectedItem(source_id=source.id, source_document_id="A-1", record_number="0000001",
                              title="入院记录", state="failed", failure_reason="文件已损坏，无法解析"))
    session.commit()


def test_failed_collections_are_on_the_collection_monitors_home_without_patient_data(client_for, session, world):
    _failed_item(session, world)
    admin = home(client_for("sysadmin"))
    failed = card(admin, "todo-failed")
    assert "电子病历系统" in failed and "文件已损坏，无法解析" in failed and "<td>1</td>" in failed
    assert "0000001" not in failed and "入院记录" not in failed
    assert top_link(admin, "/") == '首页 <span class="count">1</span>'
    assert card(home(client_for("clinician")), "todo-failed") == ""


def test_the_operator_homes_collection_queue_counts_items_by_state(client_for, session, world):
    _failed_item(session, world)
    queue = card(home(client_for("archivist")), "collection-state")
    assert "<h3>采集队列</h3>" in queue and "<td>失败</td><td>1</td>" in queue
    assert "<td>已归档</td>" in queue  # record states named in Chinese


def _grant(session, world, role: str, days: float) -> Grant:
    grant = Grant(user_id=world.users[role].id, record_id=world.records["other_department"].id, actions=["view"],
                  valid_until=utcnow() + timedelta(days=days), reason="借阅")
    session.add(grant)
    session.commit()
    return grant


def test_my_grant_ending_within_three_days_is_on_my_home(client_for, session, world):
    _grant(session, world, "clinician", 1)
    mine = card(home(client_for("clinician")), "todo-expiring-mine")
    assert "病案 0000004" in mine and f'href="/records/{world.records["other_department"].id}"' in mine
    assert top_link(home(client_for("clinician")), "/") == '首页 <span class="count">1</span>'


def test_a_grant_ending_later_or_revoked_is_not_listed(client_for, session, world):
    _grant(session, world, "clinician", 10)
    _grant(session, world, "nurse", 1).revoked_at = utcnow()
    session.commit()
    assert card(home(client_for("clinician")), "todo-expiring-mine") == ""
    assert card(home(client_for("secadmin")), "todo-expiring-all") == ""


def test_the_grants_manager_sees_every_grant_ending_soon_with_record_and_user(client_for, session, world):
    _grant(session, world, "nurse", 2)
    every = card(home(client_for("secadmin")), "todo-expiring-all")
    assert "<td>0000004</td>" in every and "<td>测试nurse</td>" in every and 'href="/admin/grants"' in every


def test_an_empty_to_do_list_says_so(client_for):
    assert "暂无待办事项" in card(home(client_for("auditor")), "todo")


def test_the_administrators_home_and_a_clinicians_home_differ(client_for):
    admin, clinician = home(client_for("sysadmin")), home(client_for("clinician"))
    assert 'id="next-steps"' in admin and 'id="collection-state"' in admin
    assert 'id="recent"' not in admin and 'id="favourites"' not in admin and 'action="/search"' not in admin
    assert 'id="next-steps"' not in clinician and 'id="collection-state"' not in clinician
    assert 'id="recent"' in clinician and 'id="favourites"' in clinician and 'action="/search"' in clinician
