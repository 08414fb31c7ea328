"""Tags on records (records/tags.py): who creates, applies and removes them, and what is refused."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from bingan.access.audit import Actor
from bingan.errors import Refusal
from bingan.records import tags
from bingan.storage.models import AuditEvent, Patient, Record, Tag

ARCHIVIST = {"tags.manage", "search.use"}
CLINICIAN = {"search.use"}


def _record(session) -> Record:
    record = Record(patient=Patient(record_number="ZY9101", name="周九"), record_number="ZY9101", stay_number=1,
                    visit_type="inpatient", status="archived")
    session.add(record)
    session.flush()
    return record


def test_who_manages_tags_creates_one_on_the_spot_when_applying_an_unknown_name(session):
    record = _record(session)
    tag = tags.apply(session, Actor(None, "u_archivist"), ARCHIVIST, record, " 疑难病例 ")
    assert (tag.name, tag.restricted, record.tags) == ("疑难病例", False, [tag])
    actions = session.scalars(sa.select(AuditEvent.detail).where(AuditEvent.action == "tag")).all()
    assert [a["操作"] for a in actions] == ["创建", "添加"]


def test_anyone_else_is_told_to_choose_an_existing_tag_and_nothing_is_created(session):
    record = _record(session)
    with pytest.raises(Refusal, match="请从已有标签中选择"):
        tags.apply(session, Actor(None, "u_doctor"), CLINICIAN, record, "疑难病例")
    assert session.scalar(sa.select(Tag.id)) is None


def test_a_restricted_tag_is_applied_and_removed_only_by_who_manages_tags(session):
    record = _record(session)
    tags.create(session, Actor(None, "u_archivist"), "VIP", restricted=True)
    with pytest.raises(tags.RestrictedTag) as refused:
        tags.apply(session, Actor(None, "u_doctor"), CLINICIAN, record, "VIP")
    assert refused.value.status == 403 and record.tags == []
    tags.apply(session, Actor(None, "u_archivist"), ARCHIVIST, record, "VIP")
    with pytest.raises(tags.RestrictedTag):
        tags.remove(session, Actor(None, "u_doctor"), CLINICIAN, record, "VIP")
    tags.remove(session, Actor(None, "u_archivist"), ARCHIVIST, record, "VIP")
    assert record.tags == []


@pytest.mark.parametrize(("name", "color", "problem"), [
    ("", "#607d8b", "不能为空"),
    ("长" * 65, "#607d8b", "不能超过64个字符"),
    ("VIP", "#607d8b", "已存在"),
    ("红色", "red;background:url(//evil)", "#RRGGBB"),
])
def test_a_new_tag_with_a_bad_name_or_colour_is_refused(session, name, color, problem):
    tags.create(session, Actor(None, "u_archivist"), "VIP")
    with pytest.raises(Refusal, match=problem):
        tags.create(session, Actor(None, "u_archivist"), name, color)
