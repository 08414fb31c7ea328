"""Per-record facts (record_facts): one row per discharged inpatient record with what the statistics count
— discharge time, department, campus, kind, submission and archive times, and flags: paper pages, defective
(not 归档完整), surgical, transfusion, MER-TL-01..04 met, D&T-04/06 complete, the latest final grade. The
records subject of blocks.py and the archive-rate report (records/archive_rate.py) count over this
table's covering index instead of joining each record's documents, operations, pages, checks, marks and
scores (at a million records the indicators' joins took 26–55 s on PostgreSQL; the facts, under one).

How the rows are kept up to date: **dirty markers set by database triggers, refreshed before every read.**

- Triggers (migration 0043) on records, documents, operations, scan_pages, check_runs, check_findings,
  record_marks and final_scores append the record's id to record_facts_dirty on every insert, delete and
  update of a column a fact reads. They run inside the writer's own transaction, so a committed change
  always comes with its marker, whichever writer made it: archiving and submission, collection of
  documents, scan capture, self-checks and marks, scoring — and bulk SQL, imports and future writers that
  would never remember to call us. Writing the facts themselves in each writer's transaction was the
  other choice; it would put the facts computation on every writer's path and trust each one to call it.
- ``refresh`` recomputes the marked records and removes their markers. Every report and indicator calls
  it first, in its own transaction, before reading (``blocks.run``, ``records_where``): what it then counts
  includes every change committed before. A timed job (worker/timed.py, every beat tick) calls it too, so
  a report usually finds nothing to do. The markers are append-only (no unique key): a writer never waits
  for a refresh; a refresh takes its markers with DELETE … RETURNING, so a marker committed meanwhile stays
  for the next one. Refreshes run one at a time (PostgreSQL: a transaction-level advisory lock; SQLite:
  its write lock), so a report finding markers waits for a refresh under way to commit (at its request's
  end) and then counts what it wrote; a report finding none takes no lock at all.
- Editing the D&T-04/06 required documents (indicators.add_requirement / remove_requirement) recomputes
  those two flags over every row in the edit's transaction (``requirements_changed``).
- What depends on the working-day calendar or on today — MER-TQ-01 (2 working days), 超期 — is not
  stored: the report joins the day table (archive_rate.day_table) on the stored times, so a holiday
  edit or a deadline passing changes the numbers without any write to a record.

A fact reading a new column or table needs a migration adding it to the triggers (0043 lists them);
one changing what a fact means, or the document type catalogue the facts name types from (fixed by
migrations, not editable), rebuilds the table there (``rebuild``).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.orm import Session, aliased

from bingan.records.calendar import DEATH_DISCHARGE
from bingan.storage.models import Document, DocumentType, Operation, Record
from bingan.storage.models.completeness import CheckFinding, CheckRun, Mark
from bingan.storage.models.digitisation import ScanPage
from bingan.storage.models.scoring import FinalScore
from bingan.storage.models.statistics import IndicatorRequirement, RecordFact, RecordFactDirty

FACTS = RecordFact.__table__
DIRTY = RecordFactDirty.__table__
ADVISORY_LOCK_KEY = 0x6269_6E67_6661_6374  # "bingfact": every refresh of the facts
MARKERS_PER_BATCH = 50_000  # markers taken at once (a bulk load leaves millions)
RECORDS_PER_CHUNK = 5_000  # records recomputed in one statement
YES = ("1", "是", "有", "Y", "y", "true")
ADMISSION_NOTES = ("入院记录", "再次或多次入院记录", "24小时内入出院记录", "24小时内入院死亡记录")
DISCHARGE_NOTES = ("出院记录", "死亡记录", "24小时内入出院记录", "24小时内入院死亡记录")
FRONT_PAGE = ("住院病案首页",)
OPERATION_NOTE = ("手术记录",)
TRANSFUSION_NOTE = ("输血记录",)
REQUIRED_FLAGS = {"MER-D&T-04": "dt04_complete", "MER-D&T-06": "dt06_complete"}

Within = Callable[[sa.ColumnElement], sa.ColumnElement]  # record id column -> the records being computed


def refresh(session: Session) -> int:
    """Recompute the facts of every record marked dirty; how many records were recomputed."""
    if session.execute(sa.select(DIRTY.c.id).limit(1)).first() is None:
        return 0  # nothing written: a reading request takes no write lock
    if session.get_bind().dialect.name == "postgresql":
        # One refresh at a time (SQLite: its write lock does this): two overlapping ones could each compute a
        # record, and the one whose snapshot was older commit last. Markers another refresh is still taking
        # remain visible to us, so we wait here for it and then read what it wrote.
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    done = 0
    while True:
        batch = sa.select(DIRTY.c.id).order_by(DIRTY.c.id).limit(MARKERS_PER_BATCH).scalar_subquery()
        ids = sorted(set(session.execute(sa.delete(DIRTY).where(DIRTY.c.id.in_(batch))
                                         .returning(DIRTY.c.record_id)).scalars()))
        if not ids:
            return done
        for at in range(0, len(ids), RECORDS_PER_CHUNK):
            chunk = ids[at:at + RECORDS_PER_CHUNK]
            write(session.connection(), lambda column, chunk=chunk: column.in_(chunk))
        done += len(ids)


def rebuild(connection: Connection) -> None:
    """Every record's facts from scratch (the migration, a bulk load): no concurrent writer may run."""
    connection.execute(sa.delete(DIRTY))
    connection.execute(sa.delete(FACTS))
    discharged = sa.select(Record.id).where(Record.visit_type == "inpatient", Record.discharged_at.is_not(None))
    connection.execute(sa.insert(FACTS).from_select(list(FACTS.c.keys()), facts_select(connection,
                                                                                        lambda c: c.in_(discharged))))


def write(connection: Connection, within: Within) -> None:
    """Replace the facts of the records ``within`` selects (a deleted or no longer discharged record loses its row)."""
    connection.execute(sa.delete(FACTS).where(within(FACTS.c.record_id)))
    connection.execute(sa.insert(FACTS).from_select(list(FACTS.c.keys()), facts_select(connection, within)))


def refresh_job(session: Session, _now) -> int:
    """The timed job: keeps the dirty set small so reports rarely have anything to refresh."""
    return refresh(session)


def requirements_changed(session: Session, indicator: str) -> None:
    """The required documents of D&T-04 or -06 changed: recompute that flag on every row of its denominator."""
    refresh(session)
    flag = REQUIRED_FLAGS[indicator]
    denominator = FACTS.c.surgical if indicator == "MER-D&T-04" else FACTS.c.transfusion
    session.execute(sa.update(FACTS).where(denominator).values(
        {flag: _flag(_all_required(session.connection(), indicator, FACTS.c.record_id))}))


# ---------------------------------------------------------------- the computation


def facts_select(connection: Connection, within: Within) -> sa.Select:
    """One row of facts for each discharged inpatient record ``within`` selects, in FACTS' column order."""
    postgresql = connection.dialect.name == "postgresql"
    r = Record.__table__
    types = _type_ids(connection)
    docs = _documents(types, within)
    ops = _operations(postgresql, types, within)
    paper = _paper(within)
    surgical = ops.c.record_id.is_not(None)
    transfusion = sa.or_(docs.c.transfusion_note == 1, _front_page_says_yes(postgresql, "输血"))
    death = sa.or_(r.c.kind == "death", r.c.discharge_method == DEATH_DISCHARGE)
    columns = {
        "record_id": r.c.id,
        "discharged_at": r.c.discharged_at,
        "department_id": r.c.discharge_department_id,
        "campus_id": r.c.campus_id,
        "kind": r.c.kind,
        "deadline_kind": sa.case((death, "death"), (r.c.kind == "special", "special"), else_="normal"),
        "submitted_at": r.c.submitted_at,
        "discharge_reviewed_at": r.c.discharge_reviewed_at,
        "archived_at": r.c.archived_at,
        "has_paper": _flag(paper.c.record_id.is_not(None)),
        "defective": _flag(_defective(r.c.id)),
        "surgical": _flag(surgical),
        "transfusion": _flag(transfusion),
        "admission_note_24h": _flag(within_hours(postgresql, docs.c.admission_done, r.c.admitted_at, 24)),
        "operation_note_in_time": _flag(sa.and_(docs.c.operation_note == 1,
                                                sa.func.coalesce(ops.c.late, 0) == 0)),
        "discharge_note_24h": _flag(within_hours(postgresql, docs.c.discharge_note_done, r.c.discharged_at, 24)),
        "front_page_24h": _flag(within_hours(postgresql, docs.c.front_page_done, r.c.discharged_at, 24)),
        "dt04_complete": _flag(sa.and_(surgical, _all_required(connection, "MER-D&T-04", r.c.id))),
        "dt06_complete": _flag(sa.and_(transfusion, _all_required(connection, "MER-D&T-06", r.c.id))),
        "grade": _latest_grade(r.c.id),
    }
    assert list(columns) == list(FACTS.c.keys())
    return (sa.select(*(value.label(name) for name, value in columns.items()))
            .select_from(r.outerjoin(docs, docs.c.record_id == r.c.id).outerjoin(ops, ops.c.record_id == r.c.id)
                         .outerjoin(paper, paper.c.record_id == r.c.id))
            .where(r.c.visit_type == "inpatient", r.c.discharged_at.is_not(None), within(r.c.id)))


def _flag(condition: sa.ColumnElement) -> sa.ColumnElement:
    """True or false, never NULL: a fact a record lacks (no document, no time) is not met."""
    return sa.case((condition, sa.true()), else_=sa.false())


class _Types:
    def __init__(self, ids: dict[str, list[int]]) -> None:
        self._ids = ids

    def __call__(self, *names: str) -> list[int]:
        return [type_id for name in names for type_id in self._ids.get(name, [])] or [-1]


def _type_ids(connection: Connection) -> _Types:
    """Document type ids by standard name (the 0002 catalogue)."""
    ids: dict[str, list[int]] = {}
    for type_id, name in connection.execute(sa.select(DocumentType.id, DocumentType.name)):
        ids.setdefault(name, []).append(type_id)
    return _Types(ids)


def within_hours(postgresql: bool, later: sa.ColumnElement, earlier: sa.ColumnElement,
                 hours: int) -> sa.ColumnElement:
    """``later`` no more than ``hours`` after ``earlier`` (NULL, i.e. not met, when either is missing)."""
    if postgresql:
        return later <= earlier + timedelta(hours=hours)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 24 <= hours + 1e-9


def _present(d: sa.Table) -> list[sa.ColumnElement]:
    """A document counts when the source has not withdrawn it and it has content."""
    return [~d.c.removed, d.c.current_version_id.is_not(None)]


def _documents(types: _Types, within: Within) -> sa.Subquery:
    """Per record, over its present documents of the types a fact looks at: the earliest completion (书写时间,
    else 签名时间) of the admission, discharge and front-page notes; whether it holds an operation note and a
    transfusion note. One grouped pass rather than an EXISTS per record and per fact."""
    d = Document.__table__
    done = sa.func.coalesce(d.c.written_at, d.c.signed_at)
    lists = {"admission_done": types(*ADMISSION_NOTES), "discharge_note_done": types(*DISCHARGE_NOTES),
             "front_page_done": types(*FRONT_PAGE)}
    flags = {"operation_note": types(*OPERATION_NOTE), "transfusion_note": types(*TRANSFUSION_NOTE)}
    wanted = sorted({type_id for ids in (*lists.values(), *flags.values()) for type_id in ids})
    return (sa.select(d.c.record_id,
                      *(sa.func.min(sa.case((d.c.document_type_id.in_(ids), done))).label(name)
                        for name, ids in lists.items()),
                      *(sa.func.max(sa.case((d.c.document_type_id.in_(ids), 1), else_=0)).label(name)
                        for name, ids in flags.items()))
            .where(*_present(d), d.c.document_type_id.in_(wanted), within(d.c.record_id))
            .group_by(d.c.record_id).subquery("document_facts"))


def _operations(postgresql: bool, types: _Types, within: Within) -> sa.Subquery:
    """The operated records (front-page operations), and whether one of their timed operations lacks an
    operation note completed in the 24 hours after it (MER-TL-02)."""
    o, d = Operation.__table__, Document.__table__
    done = sa.func.coalesce(d.c.written_at, d.c.signed_at)
    noted = sa.exists().where(d.c.record_id == o.c.record_id, *_present(d),
                              d.c.document_type_id.in_(types(*OPERATION_NOTE)),
                              done >= o.c.performed_at, within_hours(postgresql, done, o.c.performed_at, 24))
    late = sa.case((sa.and_(o.c.performed_at.is_not(None), ~noted), 1), else_=0)
    return (sa.select(o.c.record_id, sa.func.max(late).label("late"))
            .where(within(o.c.record_id)).group_by(o.c.record_id).subquery("operation_facts"))


def _paper(within: Within) -> sa.Subquery:
    """The records with paper pages: captured pages (数字化拍摄) or a document of origin 扫描."""
    pages = sa.select(ScanPage.record_id.label("record_id")).where(within(ScanPage.record_id))
    scanned = sa.select(Document.record_id).where(Document.origin == "scanned", within(Document.record_id))
    return sa.union(pages, scanned).subquery("paper_records")


def _defective(record_id: sa.ColumnElement) -> sa.ColumnElement:
    """Not 归档完整 (MER-TQ-02): the latest self-check found a completeness error, or a missing mark is open.
    (The latest run by id: a later run replaces an earlier one's findings.)"""
    latest = (sa.select(sa.func.max(CheckRun.id)).where(CheckRun.record_id == record_id)
              .correlate_except(CheckRun).scalar_subquery())
    failed = sa.exists().where(CheckFinding.run_id == latest, CheckFinding.check == "completeness",
                               CheckFinding.severity == "error")
    missing = sa.exists().where(Mark.record_id == record_id, Mark.kind == "missing", Mark.state == "open")
    return sa.or_(failed, missing)


def _all_required(connection: Connection, indicator: str, record_id: sa.ColumnElement) -> sa.ColumnElement:
    """Every required item of D&T-04 or -06 present (a present document of any one of its types); true
    without items. The items are rows the record room edits (requirements_changed)."""
    items = connection.execute(sa.select(IndicatorRequirement.document_type_ids)
                               .where(IndicatorRequirement.indicator == indicator)
                               .order_by(IndicatorRequirement.position, IndicatorRequirement.id)).scalars().all()
    d = aliased(Document)
    return sa.and_(sa.true(), *(sa.exists().where(d.record_id == record_id, ~d.removed,
                                                  d.current_version_id.is_not(None),
                                                  d.document_type_id.in_(list(ids or []) or [-1]))
                                for ids in items))


def _latest_grade(record_id: sa.ColumnElement) -> sa.ScalarSelect:
    """MER-TQ-09: a record's grade is its latest final score's."""
    return (sa.select(FinalScore.grade).where(FinalScore.record_id == record_id, FinalScore.status == "final")
            .order_by(FinalScore.scored_at.desc(), FinalScore.id.desc()).limit(1).scalar_subquery())


def _front_page_says_yes(postgresql: bool, field: str) -> sa.ColumnElement:
    """A front-page field is yes. SQLite's json_extract does not unescape keys: the JSON is stored
    ASCII-escaped ("\\u8f93\\u8840"), so the key is asked for in both spellings there."""
    said = Record.front_page[field].as_string().in_(YES)
    if postgresql:
        return said
    escaped = json.dumps(field)[1:-1]
    return sa.or_(said, Record.front_page[escaped].as_string().in_(YES))
