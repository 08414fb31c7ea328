"""Retention on the web: the due list (JSON and page), applying to destroy, the register's export;
only the record room (retention.manage) reaches them."""
from __future__ import annotations

from datetime import UTC, datetime

from web_helpers import csrf_of
from world import PASSWORD

from bingan.access.accounts import create_user
from bingan.storage.db import session_factory
from bingan.storage.models import Record


def _make_due(web_engine, world) -> int:
    """A record past 30 years, and a second archivist to check the first one's application."""
    with session_factory(web_engine).begin() as session:
        record = session.get(Record, world.records["normal"].id)
        record.discharged_at = datetime(1990, 5, 1, 3, tzinfo=UTC)
        create_user(session, "u_archivist2", PASSWORD, ["archivist"], full_name="复核员", department_code="0301",
                    must_change_password=False)
        return record.id


def test_the_record_room_sees_what_is_due_and_applies_to_destroy_it(web_engine, world, client_for):
    record_id = _make_due(web_engine, world)
    archivist = client_for("archivist")
    due = archivist.get("/api/v1/retention/due").json()
    assert [item["record_id"] for item in due["items"]] == [record_id]
    assert due["items"][0]["due_on"] == "2020-05-01"
    page = archivist.get("/retention")
    assert page.status_code == 200 and "申请销毁所选病案" in page.text
    token = csrf_of(page.text)
    applied = archivist.post("/api/v1/retention/destroy", json={"record_ids": [record_id], "reason": "保存期满"},
                             headers={"X-CSRF-Token": token})
    assert applied.status_code == 201, applied.text
    assert "销毁申请审批中" in archivist.get("/retention").text
    assert archivist.get("/api/v1/retention/due").json()["items"][0]["open_request_id"]


def test_a_record_not_due_is_refused_with_its_date(world, client_for):
    archivist = client_for("archivist")
    token = csrf_of(archivist.get("/retention").text)
    refused = archivist.post("/api/v1/retention/destroy", headers={"X-CSRF-Token": token},
                             json={"record_ids": [world.records["normal"].id], "reason": "清理"})
    assert refused.status_code == 409 and "才届满" in refused.json()["detail"]


def test_the_register_exports_and_clinicians_cannot_reach_retention(client_for):
    export = client_for("archivist").get("/retention/register.xlsx")
    assert export.status_code == 200 and export.content[:2] == b"PK"
    clinician = client_for("clinician")
    assert clinician.get("/retention").status_code == 403
    assert clinician.get("/api/v1/retention/due").status_code == 403
