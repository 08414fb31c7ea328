"""Messages naming a record lose their text when it is sealed (M3): the sealed record is named
nowhere but in the seal managers' register, not even in an inbox."""
from __future__ import annotations

import sqlalchemy as sa

from bingan.records.approvals.notifier import SEALED_TITLE, notify
from bingan.storage.models import Message, Record


def test_sealing_a_record_empties_the_messages_that_name_it(session, world):
    record = session.get(Record, world.records["normal"].id)
    nurse, clinician = world.users["nurse"], world.users["clinician"]
    notify(session, nurse, "reminder", f"病案 {record.record_number} 即将超期", "请尽快提交", f"/records/{record.id}")
    notify(session, clinician, "decision", "借阅申请已通过", f"患者 {record.patient.name} 的病案可查阅")
    notify(session, clinician, "decision", "另一份病案的借阅已通过", "病案 9999999")
    session.flush()
    record.sealed = True
    session.flush()
    messages = list(session.scalars(sa.select(Message).order_by(Message.id)))
    assert [(m.title, m.link) for m in messages] == [(SEALED_TITLE, ""), (SEALED_TITLE, ""),
                                                     ("另一份病案的借阅已通过", "")]
    assert all(record.record_number not in m.body and record.patient.name not in m.body for m in messages[:2])
