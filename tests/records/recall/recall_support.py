"""Helpers of recall's specification tests: who acts, and a recall taken through its whole flow."""
from __future__ import annotations

from bingan.access.audit import Actor
from bingan.records.approvals import engine
from bingan.records.recall import service


def actor(user) -> Actor:
    return Actor.of(user, "10.0.0.9")


def apply(session, world, *, days: int = 5, document_ids=None, reason: str = "出院诊断漏填并发症"):
    clinician = world.users["clinician"]
    return service.apply(session, actor(clinician), clinician, world.records["normal"], reason, days, document_ids)


def approve_all(session, world, request) -> None:
    """Head of department (科室审核: the department's member holding record.approve), then the record room."""
    for role in ("medical_affairs", "archivist"):
        user = world.users[role]
        engine.decide(session, actor(user), user, request.id, "approve", "同意")


def recalled(session, world, **kwargs):
    request = apply(session, world, **kwargs)
    approve_all(session, world, request)
    session.flush()
    return service.open_recall(session, request.record_id)
