"""Prefetch (V8): when the basic-data sync reports an admission or a booked appointment, a job
(after the sync's commit) brings that patient's files back from the cold volume and renders the
first pages of those documents into the page cache in advance."""
from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from conftest import NOW, read_back

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/peers as the "peers" package
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "access"))

from peers.emr import EmrState, make_app
from peers.loopback import Served
from world import PAGE_TEXT, pdf_bytes

from bingan.config import get_settings
from bingan.ingest.connectors import basic_data
from bingan.ingest.pipeline import Pipeline
from bingan.records.jobs import run_job
from bingan.records.pages import PAGE_WIDTH, PageRenderer
from bingan.records.tiers.service import PREFETCH_JOB, move_due, request_prefetch
from bingan.storage.blobs.tiering import committed_on
from bingan.storage.models import Patient, Source, utcnow
from bingan.storage.models.jobs import Job
from bingan.storage.models.tiers import BlobTier


def tiers_holding(store, sha: str) -> set[str]:
    return {v.tier for v in store.volumes if committed_on(v, sha)}


def old_patient_with_cold_files(session, archive, store, number: str = "P001") -> list[str]:
    first = archive.record(session, "first", number, 1, date(2012, 5, 1))
    second = archive.record(session, "second", number, 2, date(2014, 9, 1))
    shas = [archive.add_file(session, first, pdf_bytes(number), pages=len(PAGE_TEXT)),
            archive.add_file(session, second, pdf_bytes(number + "-2"), pages=len(PAGE_TEXT))]
    session.commit()
    assert sorted(move_due(session, store, NOW, years=5).moved) == sorted(shas)
    return shas


def queued_prefetches(session) -> list[Job]:
    return list(session.scalars(sa.select(Job).where(Job.kind == PREFETCH_JOB)))


def test_an_admission_in_the_basic_data_queues_a_prefetch_for_that_patient_after_the_sync(
        engine, session, archive, store, monkeypatch):
    shas = old_patient_with_cold_files(session, archive, store)
    monkeypatch.setenv("BINGAN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    emr = EmrState()
    emr.basic = {"patients": [{"record_number": "P001", "name": "测试患者"}],
                 "stays": [{"record_number": "P001", "stay": 3, "admitted_at": "2026-06-01 08:00"}]}
    with Served(make_app(emr)) as url:
        source = Source(name="his", transport="basic_data", endpoint=url, field_mapping={})
        session.add(source)
        session.commit()
        pipe = Pipeline(settings=get_settings(), engine=engine)
        try:
            basic_data.sync(pipe, source)
        finally:
            pipe.close()
    session.expire_all()
    jobs = queued_prefetches(session)
    patient = session.scalars(sa.select(Patient).where(Patient.record_number == "P001")).one()
    assert [job.params for job in jobs] == [{"patient_id": patient.id}] and jobs[0].state == "queued"
    assert all(tiers_holding(store, sha) == {"cold"} for sha in shas)  # the sync itself moved nothing


def test_a_booked_appointment_counts_as_an_arrival_and_a_past_one_does_not(session, archive, store):
    old_patient_with_cold_files(session, archive, store)
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    last_year = (utcnow() - timedelta(days=365)).strftime("%Y-%m-%d %H:%M")
    arrivals: set[int] = set()
    basic_data.apply(session, {}, {"appointments": [{"record_number": "P001", "booked_for": last_year}]},
                     arrivals=arrivals)
    assert arrivals == set()
    basic_data.apply(session, {}, {"appointments": [{"record_number": "P001", "booked_for": tomorrow}]},
                     arrivals=arrivals)
    assert arrivals == {archive.records["first"].patient_id}


def test_a_discharged_stay_or_a_patient_with_nothing_cold_queues_nothing(session, archive, store):
    old_patient_with_cold_files(session, archive, store)
    young = archive.record(session, "young", "P002", 1, date(2025, 1, 1))
    archive.add_file(session, young)
    arrivals: set[int] = set()
    basic_data.apply(session, {}, {"stays": [
        {"record_number": "P001", "stay": 3, "admitted_at": "2026-05-01 08:00", "discharged_at": "2026-05-09 10:00"},
        {"record_number": "P002", "stay": 2, "admitted_at": "2026-06-01 08:00"}]}, arrivals=arrivals)
    assert arrivals == {young.patient_id}
    assert request_prefetch(session, sorted(arrivals)) == []  # P002 has nothing on the cold volume


def test_the_prefetch_job_brings_the_files_back_hot_and_renders_their_first_pages(
        engine, session, archive, store):
    shas = old_patient_with_cold_files(session, archive, store)
    patient_id = archive.records["first"].patient_id
    [job_id] = request_prefetch(session, [patient_id])
    assert request_prefetch(session, [patient_id]) == []  # one queued job per patient
    session.commit()

    assert run_job(engine, store, job_id) == "done"

    session.expire_all()
    assert all(tiers_holding(store, sha) == {"hot"} for sha in shas)
    rows = [session.get(BlobTier, sha) for sha in shas]
    assert all(row.tier == "hot" and row.reason == "prefetch" and row.settled for row in rows)
    renderer = PageRenderer(get_settings(), store)
    pages = get_settings().tier_prefetch_pages
    for sha in shas:
        assert read_back(store, sha) == archive.files[sha]
        for number in range(1, pages + 1):
            assert renderer._path(f"{sha}_{number}_{PAGE_WIDTH}").is_file()  # in the encrypted page cache
        assert not renderer._path(f"{sha}_{pages + 1}_{PAGE_WIDTH}").exists()
    assert "调回热存储 2 个文件，预先生成 4 页" in session.get(Job, job_id).note
    # brought back on purpose: not moved to cold again the next night
    assert move_due(session, store, datetime(2026, 6, 2, 3, tzinfo=UTC), years=5).moved == []
