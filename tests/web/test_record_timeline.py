"""Who read a record is shown on its timeline to the record room and auditors only (issue 9);
everyone who may view the record sees its changes."""
from __future__ import annotations

import re

import sqlalchemy as sa
from web_helpers import csrf_of

from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, Tag


def _timeline(client, record_id: int) -> str:
    page = client.get(f"/records/{record_id}")
    assert page.status_code == 200
    return re.search(r'<section class="card" id="timeline">(.*?)</section>', page.text, re.S).group(1)


def _read_and_tag(client_for, web_engine, record_id: int):
    """A nurse reads the record, then the record room tags it; returns the record room's client."""
    with session_factory(web_engine)() as session, session.begin():
        session.add(Tag(name="待复印"))
    client_for("nurse").get(f"/records/{record_id}")
    archivist = client_for("archivist")
    token = csrf_of(archivist.get(f"/records/{record_id}").text)
    tagged = archivist.post(f"/records/{record_id}/tags", data={"tag": "待复印", "csrf_token": token},
                            follow_redirects=False)
    assert tagged.status_code == 303
    return archivist


def test_a_clinician_sees_the_records_changes_but_not_who_read_it(client_for, world, web_engine):
    record = world.records["normal"]
    _read_and_tag(client_for, web_engine, record.id)
    timeline = _timeline(client_for("clinician"), record.id)
    assert "u_archivist" in timeline  # who tagged it
    assert "u_nurse" not in timeline and "查阅" not in timeline


def test_the_record_room_sees_who_read_the_record_and_from_where(client_for, world, web_engine):
    record = world.records["normal"]
    archivist = _read_and_tag(client_for, web_engine, record.id)
    with session_factory(web_engine)() as session:
        address = session.scalar(sa.select(AuditEvent.client_ip).where(AuditEvent.username == "u_nurse",
                                                                        AuditEvent.record_id == record.id))
    timeline = _timeline(archivist, record.id)
    assert "u_nurse" in timeline and "查阅" in timeline
    assert address and f"u_nurse · {address}" in timeline
