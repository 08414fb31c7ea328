"""完成触发 on the pull contract (A3/T3), against the EMR peer: a listing entry carrying
``record_status: "complete"`` starts the completion round of the push event — a round per pull source
and the system's submission — once per record, however many listings repeat it."""
from __future__ import annotations

import sqlalchemy as sa
from ingest_support import ADMISSION, pdf
from peers.emr import EmrState, make_app
from peers.loopback import Served

from bingan.ingest.pipeline import run_until_settled
from bingan.ingest.runs import run_source
from bingan.ingest.secrets import seal_credentials
from bingan.storage.models import CollectedItem, CollectionRound, Record, Source
from bingan.storage.models.completeness import CheckRun


def _source(pipe, url: str, **fields) -> int:
    with pipe.tx() as session:
        source = Source(name="emr", kind="emr", transport="http_pull", endpoint=url,
                        credentials=seal_credentials(pipe.settings, {"token": "t0k"}), **fields)
        session.add(source)
        session.flush()
        return source.id


def _rounds(pipe) -> list[tuple[str, int, str]]:
    with pipe.tx() as session:
        return [(number, source_id, reason) for number, source_id, reason in session.execute(
            sa.select(Record.record_number, CollectionRound.source_id, CollectionRound.reason)
            .join(Record, Record.id == CollectionRound.record_id).order_by(CollectionRound.id))]


def _emr_checks(pipe) -> int:
    with pipe.tx() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(CheckRun).where(CheckRun.trigger == "emr"))


def _settle(pipe) -> set[str]:
    with pipe.tx() as session:
        ids = list(session.scalars(sa.select(CollectedItem.id)))
    return set(run_until_settled(pipe, ids, timeout=60).values())


def test_a_record_listed_complete_gets_one_round_and_the_systems_check_once(pipe, record):
    emr = EmrState()
    with Served(make_app(emr)) as url:
        source_id = _source(pipe, url)
        emr.put("D1", pdf(ADMISSION), record_number=record, stay=1, type="C0201", title="入院记录")
        emr.put("D2", pdf(ADMISSION), record_number=record, stay=1, type="C0201", title="出院记录",
                record_status="complete")
        assert run_source(pipe, source_id) == 2
        assert _rounds(pipe) == [(record, source_id, "pull_status")]
        assert _emr_checks(pipe) == 1
        emr.put("D2", pdf([["出院记录 第2稿"]]), record_status="complete")  # listed complete again
        assert run_source(pipe, source_id) == 1
    assert _rounds(pipe) == [(record, source_id, "pull_status")]
    assert _emr_checks(pipe) == 1


def test_a_listing_without_the_status_starts_no_round(pipe, record):
    emr = EmrState()
    with Served(make_app(emr)) as url:
        source_id = _source(pipe, url)
        emr.put("D1", pdf(ADMISSION), record_number=record, stay=1, type="C0201", title="入院记录",
                record_status="writing")
        assert run_source(pipe, source_id) == 1
    assert _rounds(pipe) == []
    assert _emr_checks(pipe) == 0


def test_a_record_listed_complete_before_it_exists_is_completed_when_its_first_document_is_stored(pipe):
    emr = EmrState()
    with Served(make_app(emr)) as url:
        source_id = _source(pipe, url, create_missing_records=True)
        emr.put("D9", pdf(ADMISSION), record_number="0099999", stay=1, type="C0201", title="入院记录",
                record_status="complete", patient={"name": "李四", "sex": "F"})
        assert run_source(pipe, source_id) == 1
        assert _rounds(pipe) == []  # no record yet
        assert _settle(pipe) == {"indexed"}
    assert _rounds(pipe) == [("0099999", source_id, "pull_status")]
    assert _emr_checks(pipe) == 1
