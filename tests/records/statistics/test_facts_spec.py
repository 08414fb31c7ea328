"""The per-record facts the statistics count (records/statistics/facts.py) follow every writer: a change
committed by submission, archiving, scan capture, document collection, a mark or final scoring shows up
in the next report, with no timed job in between; and the facts kept up to date change by change are
the facts a rebuild from scratch computes. Over the generated October 2026 of conftest.py."""
from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "digitisation"))

from pages import jpeg, text_page

from bingan.access.audit import Actor
from bingan.records import documents, lifecycle
from bingan.records.completeness import marks
from bingan.records.digitisation import service as digitisation
from bingan.records.digitisation.images import PageImage
from bingan.records.scoring import service as scoring
from bingan.records.scoring import tasks
from bingan.records.statistics import blocks, facts, indicators, service
from bingan.storage.models import DocumentType
from bingan.storage.models.scoring import ScoringTaskRecord
from bingan.storage.models.statistics import RecordFact

OCTOBER = blocks.period("2026-10-01", "2026-10-31")
ADMIN = Actor(None, "tester")
BEIJING = timezone(timedelta(hours=8))


def _row(session, report: str, department) -> dict:
    table = service.run_report(session, report, OCTOBER, blocks.Filters())
    return next(row.values for row in table.rows if row.key == department.id)


def _indicator(session, code: str) -> tuple:
    value = next(v for v in indicators.compute(session, OCTOBER, blocks.Filters()) if v.indicator.code == code)
    return value.numerator, value.denominator


def test_a_submission_shows_up_in_the_next_overdue_report(session, month):
    respiratory, r4 = month.world.respiratory, month.records["R4"]
    assert _row(session, "overdue", respiratory)["overdue_open"] == 1
    lifecycle.move(session, ADMIN, r4, "submitted", "测试")
    session.commit()
    assert _row(session, "overdue", respiratory)["overdue_open"] == 0


def test_archiving_shows_up_in_the_next_paperless_report(session, month):
    respiratory, r3 = month.world.respiratory, month.records["R3"]
    assert _row(session, "paperless", respiratory)["archived"] == 0
    lifecycle.move(session, ADMIN, r3, "qc")
    lifecycle.move(session, ADMIN, r3, "archived")
    session.commit()
    assert _row(session, "paperless", respiratory)["archived"] == 1


def test_a_captured_page_makes_the_record_one_with_paper(session, month):
    cardiology, r1 = month.world.cardiology, month.records["R1"]
    assert _row(session, "paperless", cardiology)["paperless"] == 1
    image = text_page()
    data = jpeg(image)
    category = digitisation.capture_categories(session, "inpatient")[0]
    clerk = month.world.users["archivist"]
    digitisation.capture(session, Actor(clerk.id, clerk.username), r1, category,
                         [digitisation.Stored(PageImage(image, data), hashlib.sha256(data).hexdigest())])
    session.commit()
    assert _row(session, "paperless", cardiology)["paperless"] == 0


def test_a_collected_admission_note_counts_for_mer_tl_01(session, month):
    """R3's admission note was withdrawn; the EMR sends another, signed two hours after admission."""
    assert _indicator(session, "MER-TL-01") == (2, 4)
    note_type = session.scalars(sa.select(DocumentType).where(DocumentType.name == "入院记录")).one()
    signed = datetime(2026, 10, 12, 10, tzinfo=BEIJING)
    source = documents.DocumentSource("EMR", "2610003-admission-2", note_type, signed_at=signed)
    content = documents.NewContent(hashlib.sha256(b"note").hexdigest(), 4, "application/pdf", "note.pdf", [])
    documents.add_version(session, month.records["R3"], source, content)
    session.commit()
    assert _indicator(session, "MER-TL-01") == (3, 4)


def test_closing_the_missing_mark_leaves_the_record_no_longer_defective(session, month):
    respiratory, r4 = month.world.respiratory, month.records["R4"]
    assert _row(session, "defects", respiratory)["defective"] == 1
    (mark,) = marks.open_marks(session, r4.id)
    marks.close_mark(session, ADMIN, mark, "尸检报告已回")
    session.commit()
    assert _row(session, "defects", respiratory)["defective"] == 0


def test_a_submitted_final_score_counts_for_mer_tq_09(session, month):
    assert _indicator(session, "MER-TQ-09") == (0, 0)
    qc = month.world.users["qc"]
    task = tasks.create(session, Actor(qc.id, qc.username), qc, "十月抽查", tasks.Rule(month="2026-10", count=10),
                        [qc.id], seed=1)
    session.flush()
    graded = 0
    for assignment in session.scalars(sa.select(ScoringTaskRecord).where(ScoringTaskRecord.task_id == task.id)):
        score = scoring.open_score(session, Actor(qc.id, qc.username), qc, assignment)
        for proposed in [d for d in score.deductions if d.state == "proposed"]:  # the self-checks' proposals
            scoring.decide(session, Actor(qc.id, qc.username), qc, score, proposed.id, True)
        graded += scoring.submit(session, Actor(qc.id, qc.username), qc, score).grade == "甲"
    session.commit()
    assert _indicator(session, "MER-TQ-09") == (graded, 4)


def test_the_timed_job_refreshes_what_writers_marked(session, month):
    facts.refresh(session)
    month.records["R1"].archived_at = None
    session.commit()
    assert facts.refresh_job(session, datetime.now(UTC)) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(facts.DIRTY)) == 0
    assert session.get(RecordFact, month.records["R1"].id).archived_at is None


def test_a_record_no_longer_discharged_loses_its_facts(session, month):
    month.records["R2"].visit_type = "outpatient"
    session.commit()
    assert _indicator(session, "MER-TL-01")[1] == 3


def test_facts_kept_change_by_change_equal_a_rebuild_from_scratch(session, month):
    test_a_collected_admission_note_counts_for_mer_tl_01(session, month)
    test_a_submitted_final_score_counts_for_mer_tq_09(session, month)
    indicators.add_requirement(session, ADMIN, "MER-D&T-04", "手术清点记录",
                               [next(id_ for id_, name in indicators.type_names(session).items()
                                     if name == "手术清点记录")])
    facts.refresh(session)
    kept = {row.record_id: tuple(row) for row in session.execute(sa.select(facts.FACTS))}
    facts.rebuild(session.connection())
    rebuilt = {row.record_id: tuple(row) for row in session.execute(sa.select(facts.FACTS))}
    assert kept == rebuilt and len(kept) >= 5


def test_a_discharge_review_time_from_the_emr_shows_up_in_the_archive_rate_report(session, month):
    """R3 (discharged Friday 10-16) reviewed by its department on Monday 10-19: within 2 working days."""
    from bingan.records.archive_rate import archive_rate

    before = archive_rate(session, "2026-10", "2026-10", "discharge_review").totals.archived_within_2_days
    month.records["R3"].discharge_reviewed_at = datetime(2026, 10, 19, 9, tzinfo=BEIJING)
    session.commit()
    assert archive_rate(session, "2026-10", "2026-10", "discharge_review").totals.archived_within_2_days == before + 1
