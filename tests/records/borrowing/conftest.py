"""Fixtures for the borrowing specification: the test hospital (tests/access/world.py) on SQLite
and PostgreSQL with the shipped borrowing flows (migration 0012) and a head of the respiratory
ward, whose records the cardiology clinician may not see."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "access"))

from world import PASSWORD, World, add_pdf_document, build_world

from bingan.access.accounts import create_user
from bingan.records.workflows import install


@pytest.fixture(autouse=True)
def kinds() -> None:
    install()


@pytest.fixture
def world(session) -> World:
    built = build_world(session, with_documents=False)
    built.users["head_resp"] = create_user(session, "u_head_resp", PASSWORD, ["medical_affairs"],
                                           full_name="呼吸内科主任", department_code="0302",
                                           must_change_password=False)
    record = built.records["other_department"]
    built.documents["other_department"] = [add_pdf_document(session, record, "入院记录"),
                                           add_pdf_document(session, record, "出院记录")]
    session.commit()
    return built
