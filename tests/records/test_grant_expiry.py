"""到期提醒 of temporary grants (临时授权): two days before a grant ends its holder is told once;
extending it re-arms the reminder; a revoked grant is not reminded of (issue 17, item 5)."""
from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "access"))

from world import build_world

from bingan.access import grants
from bingan.access.audit import Actor
from bingan.records.grant_expiry import remind_expiring_grants
from bingan.storage.models import Grant, Message, utcnow

ACTOR = Actor(None, "测试")


def _reminders(session, user) -> list[str]:
    return list(session.scalars(sa.select(Message.title).where(Message.user_id == user.id,
                                                               Message.kind == "reminder").order_by(Message.id)))


def test_a_grant_ending_within_two_days_is_reminded_of_once(session):
    world = build_world(session, with_documents=False)
    clinician, record = world.users["clinician"], world.records["granted"]  # granted for seven days
    assert remind_expiring_grants(session, utcnow() + timedelta(days=4)) == 0
    assert remind_expiring_grants(session, utcnow() + timedelta(days=6)) == 1
    assert remind_expiring_grants(session, utcnow() + timedelta(days=6, hours=1)) == 0
    [title] = _reminders(session, clinician)
    assert title.startswith(f"您对病案 {record.record_number}（第1次住院）的临时授权即将到期")


def test_extending_a_grant_reminds_of_its_new_end_and_a_revoked_one_is_not_reminded(session):
    world = build_world(session, with_documents=False)
    given = session.scalars(sa.select(Grant)).one()
    remind_expiring_grants(session, utcnow() + timedelta(days=6))
    grants.extend(session, ACTOR, given.id, 7, "继续查阅")
    assert remind_expiring_grants(session, utcnow() + timedelta(days=13)) == 1
    grants.extend(session, ACTOR, given.id, 7, "继续查阅")
    grants.revoke(session, ACTOR, given.id, "不再需要")
    assert remind_expiring_grants(session, utcnow() + timedelta(days=20)) == 0
    assert len(_reminders(session, world.users["clinician"])) == 2
