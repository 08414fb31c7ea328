"""The comparison and review API: two versions of the world's 入院记录 — one word changed on page 1,
a page inserted before page 2 — and the keep / reject of a version collected after archiving."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from versions_support import INSERTED_PAGE, collect_second_version

from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, Document, Message, PendingChange


@pytest.fixture
def second(app, web_engine, world) -> int:
    return collect_second_version(web_engine, world)


def _post(client, url: str, **json):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.post(url, json=json, headers={"X-CSRF-Token": token})


def _document(world) -> int:
    return world.documents["normal"][0].id


def test_an_inserted_page_shifts_nothing_and_one_word_is_one_change(client_for, world, second):
    answer = client_for("qc").get(f"/api/v1/documents/{_document(world)}/compare?a=1&b=2").json()
    assert answer["a"] == 1 and answer["b"] == 2
    assert [(p["a_page"], p["b_page"], p["status"]) for p in answer["pages"]] == [
        (1, 1, "changed"), (None, 2, "added"), (2, 3, "same"), (3, 4, "same")]
    assert answer["pages"][0]["text_changes"] == [{"op": "replace", "a_text": "闷", "b_text": "痛"}]
    assert answer["pages"][1]["text_changes"] == [{"op": "insert", "a_text": "", "b_text": "\n".join(INSERTED_PAGE)}]


def test_a_changed_page_carries_its_changed_regions_as_fractions_of_the_page(client_for, world, second):
    page = client_for("qc").get(f"/api/v1/documents/{_document(world)}/compare?a=1&b=2").json()["pages"][0]
    assert page["regions"], "the changed character must be boxed"
    for region in page["regions"]:
        assert 0 <= region["x"] < 1 and 0 <= region["y"] < 1 and 0 < region["w"] <= 1 and 0 < region["h"] <= 1
    # the change is in the third line of text, in the upper part of the page
    assert all(region["y"] < 0.3 for region in page["regions"])


def test_regions_of_one_page_are_answered_on_their_own(client_for, world, second):
    qc = client_for("qc")
    answer = qc.get(f"/api/v1/documents/{_document(world)}/compare/regions?a=1&b=2&page=1").json()
    assert answer["status"] == "changed" and answer["regions"]
    same = qc.get(f"/api/v1/documents/{_document(world)}/compare/regions?a=1&b=2&page=3").json()
    assert same["status"] == "same" and same["regions"] == []


def test_without_a_choice_the_current_version_is_compared_with_the_one_before(client_for, world, second):
    answer = client_for("qc").get(f"/api/v1/documents/{_document(world)}/compare").json()
    assert (answer["a"], answer["b"]) == (1, 1)  # v2 waits for review: v1 is still current
    assert {page["status"] for page in answer["pages"]} == {"same"}


def test_a_version_the_document_does_not_have_is_a_404_in_chinese(client_for, world, second):
    response = client_for("qc").get(f"/api/v1/documents/{_document(world)}/compare?a=1&b=9")
    assert response.status_code == 404 and "第 9 版" in response.json()["detail"]


def test_comparing_is_audited_as_viewing_the_document(client_for, web_engine, world, second):
    client_for("qc").get(f"/api/v1/documents/{_document(world)}/compare?a=1&b=2")
    with session_factory(web_engine)() as session:
        details = session.scalars(sa.select(AuditEvent.detail).where(
            AuditEvent.action == "view", AuditEvent.document_id == _document(world)))
        assert {"版本对比": "第1版 ↔ 第2版"} in list(details)


def test_the_pending_list_shows_the_waiting_version(client_for, world, second):
    items = client_for("qc").get("/api/v1/versions/pending").json()["items"]
    assert [(item["version_id"], item["version"], item["current_version"]) for item in items] == [(second, 2, 1)]


def test_keeping_makes_the_collected_version_current_and_is_audited(client_for, web_engine, world, second):
    answer = _post(client_for("qc"), f"/api/v1/versions/{second}/keep")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "accepted" and answer.json()["current_version"] == 2
    with session_factory(web_engine)() as session:
        assert session.get(Document, _document(world)).current_version_id == second
        decision = session.scalar(sa.select(AuditEvent.detail).where(AuditEvent.action == "pending_change"))
        assert decision["决定"] == "接受"


def test_rejecting_keeps_the_archived_version_stores_the_reason_and_tells_the_interface_people(
        client_for, web_engine, world, second):
    answer = _post(client_for("archivist"), f"/api/v1/versions/{second}/reject", reason="归档后修改主诉未经审批")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "rejected" and answer.json()["current_version"] == 1
    with session_factory(web_engine)() as session:
        change = session.scalars(sa.select(PendingChange).where(PendingChange.version_id == second)).one()
        assert change.reason == "归档后修改主诉未经审批"
        message = session.scalars(sa.select(Message).where(Message.user_id == world.users["sysadmin"].id)).one()
        assert "归档后修改主诉未经审批" in message.body and message.link.endswith("?a=1&b=2")


def test_a_rejection_without_a_reason_changes_nothing(client_for, web_engine, world, second):
    response = _post(client_for("qc"), f"/api/v1/versions/{second}/reject", reason="  ")
    assert response.status_code == 400 and response.json()["detail"] == "驳回变更须填写原因"
    with session_factory(web_engine)() as session:
        assert session.scalars(sa.select(PendingChange.state)).one() == "pending"


def test_a_decided_change_cannot_be_decided_again(client_for, world, second):
    qc = client_for("qc")
    _post(qc, f"/api/v1/versions/{second}/keep")
    response = _post(qc, f"/api/v1/versions/{second}/reject", reason="改主意了")
    assert response.status_code == 409 and "已接受" in response.json()["detail"]


def test_a_clinician_may_not_review_changes(client_for, world, second):
    assert _post(client_for("clinician"), f"/api/v1/versions/{second}/keep").status_code == 403


def test_a_version_that_waits_for_nothing_is_a_404(client_for, world, second):
    first = world.documents["normal"][0].current_version_id
    response = _post(client_for("qc"), f"/api/v1/versions/{first}/keep")
    assert response.status_code == 404 and "待审核" in response.json()["detail"]
