"""A change of a record's access facts reaches search at once (issue 9, H1).

The index copies department, campus, confidentiality, tags and the seal onto every page. After
any of them changes, a user the gate now refuses must not find the record — neither before the
worker has rewritten the pages' access terms (the outbox withholds it) nor after (the terms).
Real database, real tantivy index, the test hospital of tests/access/world.py.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "access"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from web_helpers import index_world
from world import build_world

from bingan.access.policy import scope_for
from bingan.config import get_settings
from bingan.ingest.pipeline import Pipeline
from bingan.ingest.scheduler import refresh_index_access
from bingan.records import lifecycle
from bingan.search.factory import open_search_index
from bingan.search.port import Scope
from bingan.storage.db import session_factory
from bingan.storage.models import (
    Campus,
    Department,
    Document,
    DocumentType,
    IndexAccessOutbox,
    Record,
    Tag,
    User,
    UserScope,
)

NUMBER = "0000001"  # the "normal" record of the test hospital: the clinician's department, public


@pytest.fixture
def hospital(sqlite_engine):
    with session_factory(sqlite_engine)() as session, session.begin():
        build_world(session)
        east = Campus(code="east", name="东院")
        session.add(east)
        clinician = session.scalars(sa.select(User).where(User.username == "u_clinician")).one()
        session.add(UserScope(user_id=clinician.id, kind="campus", code="main"))
    index_world(sqlite_engine)
    index = open_search_index(get_settings())
    yield sqlite_engine, index
    index.close()


def finds(engine, index, username: str = "u_clinician") -> bool:
    with session_factory(engine)() as session:
        user = session.scalars(sa.select(User).where(User.username == username)).one()
        scope = scope_for(session, user)
    result = index.search(f"病案号:{NUMBER}", scope)
    return any(hit.record_number == NUMBER for hit in result.records)


def change(engine, edit: Callable) -> None:
    with session_factory(engine)() as session, session.begin():
        record = session.scalars(sa.select(Record).where(Record.record_number == NUMBER)).one()
        edit(session, record)


def _tag(session, record):
    record.tags.append(session.scalars(sa.select(Tag).where(Tag.name == "VIP")).one())


def _seal(session, record):
    lifecycle.seal(session, lifecycle.SYSTEM, record, "医疗纠纷")


def _confidential(_session, record):
    record.confidentiality = 2


def _department(session, record):
    respiratory = session.scalars(sa.select(Department).where(Department.code == "0302")).one()
    record.discharge_department = record.admission_department = respiratory


def _campus(session, record):
    record.campus = session.scalars(sa.select(Campus).where(Campus.code == "east")).one()


CHANGES = {"restricted_tag": _tag, "seal": _seal, "confidentiality": _confidential, "department": _department,
           "campus": _campus}


@pytest.mark.parametrize("fact", CHANGES)
def test_a_user_refused_after_the_change_no_longer_finds_the_record(hospital, fact):
    engine, index = hospital
    assert finds(engine, index)
    change(engine, CHANGES[fact])
    assert not finds(engine, index)


@pytest.mark.parametrize("fact", CHANGES)
def test_the_worker_tick_rewrites_the_pages_access_terms(hospital, fact):
    engine, index = hospital
    change(engine, CHANGES[fact])
    index.close()  # the worker owns the writer
    pipe = Pipeline(settings=get_settings(), engine=engine)
    assert refresh_index_access(pipe) == 1
    pipe.close()
    with session_factory(engine)() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(IndexAccessOutbox)) == 0
    assert not finds(engine, open_search_index(get_settings()))


def test_new_terms_admit_the_new_department(hospital):
    engine, _index = hospital
    change(engine, _department)
    pipe = Pipeline(settings=get_settings(), engine=engine)
    refresh_index_access(pipe)
    pipe.close()
    reopened = open_search_index(get_settings())
    cardiology, respiratory = Scope(departments={"0301"}), Scope(departments={"0302"})
    assert reopened.search(f"病案号:{NUMBER}", cardiology).records == []
    hits = reopened.search(f"病案号:{NUMBER}", respiratory).records
    assert [hit.department_name for hit in hits] == ["呼吸内科"]


def test_renaming_a_restricted_tag_queues_its_records(hospital):
    engine, _index = hospital
    change(engine, _tag)
    pipe = Pipeline(settings=get_settings(), engine=engine)
    refresh_index_access(pipe)
    with session_factory(engine)() as session, session.begin():
        session.scalars(sa.select(Tag).where(Tag.name == "VIP")).one().name = "贵宾"
    with session_factory(engine)() as session:
        queued = session.scalars(sa.select(IndexAccessOutbox.record_id)).all()
        record_id = session.scalar(sa.select(Record.id).where(Record.record_number == NUMBER))
    assert record_id in queued
    refresh_index_access(pipe)
    pipe.close()
    assert not finds(engine, open_search_index(get_settings()))


def test_an_unrelated_edit_queues_nothing(hospital):
    engine, _index = hospital
    change(engine, lambda _session, record: setattr(record, "attending_doctor", "王主任"))
    with session_factory(engine)() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(IndexAccessOutbox)) == 0


def test_retyping_a_document_queues_its_record(hospital):
    engine, _index = hospital
    with session_factory(engine)() as session, session.begin():
        record = session.scalars(sa.select(Record).where(Record.record_number == NUMBER)).one()
        document = session.scalars(sa.select(Document).where(Document.record_id == record.id)).first()
        other = session.scalars(sa.select(DocumentType).where(DocumentType.id != document.document_type_id)).first()
        document.document_type = other
        record_id = record.id
    with session_factory(engine)() as session:
        assert record_id in session.scalars(sa.select(IndexAccessOutbox.record_id)).all()
