"""Fixtures for the approval engine's specification: the test hospital (tests/access/world.py) on
SQLite and PostgreSQL, a generic test kind whose hooks leave visible traces, and its flows."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "access"))

from world import World, build_world

from bingan.access.audit import Actor
from bingan.records.approvals.kinds import Kind, register, unregister
from bingan.records.workflows import install
from bingan.storage.models import ApprovalFlow, ApprovalRequest, Tag


def _approved(session, request: ApprovalRequest, _actor: Actor) -> None:
    """The test kind's effect: the record gets the tag 已批准 (so it exists exactly when approved)."""
    request.record.tags.append(Tag(name=f"已批准{request.id}"))


def _rejected(session, request: ApprovalRequest, _actor: Actor) -> None:
    request.payload = {**request.payload, "rejected_hook": True}


TEST_KIND = Kind("test", "测试申请", on_approved=_approved, on_rejected=_rejected)
TWO_STEPS = [
    {"name": "质控审核", "mode": "any", "approvers": [{"kind": "role", "value": "qc"}], "hours": 24,
     "escalate_to": "archivist"},
    {"name": "医务处审批", "mode": "any", "approvers": [{"kind": "role", "value": "medical_affairs"}], "hours": 24,
     "escalate_to": "archivist"},
]


@pytest.fixture(autouse=True)
def kinds() -> Iterator[None]:
    install()
    register(TEST_KIND)
    yield
    unregister("test")


@pytest.fixture
def world(session) -> World:
    built = build_world(session, with_documents=False)
    session.add(ApprovalFlow(kind="test", name="两级审批", position=10, match={}, steps=TWO_STEPS))
    session.commit()
    return built
