"""Bulk record-number lookup (Z1): thousands of numbers, aliases and 住院号 included, in three indexed queries.

The numbers travel as ONE parameter whatever their count: a JSON array read by ``json_each``
on SQLite, an array compared with ``= ANY`` on PostgreSQL. That is below any bind limit, is one
statement to plan, and each database probes the unique index per number (bench/ingest.py).
Rows are read through Core: thousands of found rows need no ORM identity map or loading.

Numbers come as people and spreadsheets write them: full-width digits (０１０００５１) are read as
ASCII, and where the hospital's record numbers are zero-padded to a fixed width
(``BINGAN_RECORD_NUMBER_WIDTH``), a shorter all-digit number — Excel drops leading zeros from
numeric cells, 0100051 → 100051 — is also tried padded. A number asked is matched against 病案号,
then the aliases, then 住院号 (one stay's inpatient number); within each, as typed before padded.
"""
from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from bingan.storage.models import Patient, Record, RecordNumberAlias


@dataclass(frozen=True, slots=True)
class RecordRef:
    record_id: int
    record_number: str
    stay: int
    visit_type: str
    patient_name: str
    discharged_at: datetime | None


@dataclass
class LookupResult:
    """``found`` is keyed by the number as asked (an alias maps to its record number's records,
    a 住院号 to its one stay)."""

    found: dict[str, list[RecordRef]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    via_alias: dict[str, str] = field(default_factory=dict)  # asked alias -> record number
    via_inpatient: set[str] = field(default_factory=set)  # asked numbers found as 住院号


def normalise(number: str) -> str:
    """What a typed or pasted number means: full-width forms as ASCII (NFKC), no surrounding space."""
    return unicodedata.normalize("NFKC", number).strip()


def padded(number: str, width: int) -> str | None:
    """The number as the hospital writes it, when a spreadsheet dropped its leading zeros."""
    if width and number.isascii() and number.isdigit() and len(number) < width:
        return number.zfill(width)
    return None


def lookup_record_numbers(session: Session, numbers: Iterable[str], width: int = 0) -> LookupResult:
    asked = _clean(numbers)
    tries = {number: [n for n in (number, padded(number, width)) if n] for number in asked}
    candidates = {n for tried in tries.values() for n in tried}
    aliases = _aliases(session, sorted(candidates))
    records = _records(session, Record.record_number, candidates | set(aliases.values()))
    result = LookupResult()
    for number, tried in tries.items():
        _by_record_number(result, number, tried, records, aliases)
    # 住院号 only for what no record number or alias explains: the third query stays small.
    unexplained = {number: tries[number] for number in asked if number not in result.found}
    stays = _records(session, Record.inpatient_number, {n for tried in unexplained.values() for n in tried})
    for number, tried in unexplained.items():
        _by_inpatient_number(result, number, tried, stays)
    result.found = {number: result.found[number] for number in asked if number in result.found}  # as asked
    return result


def _by_record_number(result: LookupResult, number: str, tried: list[str], records: dict[str, list[RecordRef]],
                      aliases: dict[str, str]) -> None:
    for candidate in tried:
        if candidate in records:
            result.found[number] = records[candidate]
            return
    for candidate in tried:
        if aliases.get(candidate) in records:
            result.found[number] = records[aliases[candidate]]
            result.via_alias[number] = aliases[candidate]
            return


def _by_inpatient_number(result: LookupResult, number: str, tried: list[str],
                         stays: dict[str, list[RecordRef]]) -> None:
    for candidate in tried:
        if candidate in stays:
            result.found[number] = stays[candidate]
            result.via_inpatient.add(number)
            return
    result.missing.append(number)


def _clean(numbers: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(n for n in (normalise(n) for n in numbers if n) if n))


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _datetime(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def one_of(session: Session, column: sa.ColumnElement, values: list[str]) -> sa.ColumnElement[bool]:
    """``column IN values`` with the values as a single bound parameter."""
    if not _sqlite(session):
        return column == sa.any_(sa.bindparam(None, values, type_=postgresql.ARRAY(sa.String)))
    listed = sa.func.json_each(sa.bindparam(None, json.dumps(values), type_=sa.String)).table_valued("value")
    return column.in_(sa.select(listed.c.value))


def _aliases(session: Session, numbers: list[str]) -> dict[str, str]:
    if not numbers:
        return {}
    query = sa.select(RecordNumberAlias.alias, RecordNumberAlias.record_number)
    rows = session.connection().execute(query.where(one_of(session, RecordNumberAlias.alias, numbers)))
    return {alias: number for alias, number in rows}


def _records(session: Session, column: sa.ColumnElement, numbers: set[str]) -> dict[str, list[RecordRef]]:
    """The records whose ``column`` (病案号 or 住院号) is one of ``numbers``, keyed by that value."""
    by_number: dict[str, list[RecordRef]] = {}
    if not numbers:
        return by_number
    # On SQLite the discharge time comes as stored and is parsed with the C fromisoformat,
    # cheaper than SQLAlchemy's per-row DateTime processing over thousands of rows.
    discharged = sa.type_coerce(Record.discharged_at, sa.String) if _sqlite(session) else Record.discharged_at
    query = sa.select(
        column, Record.id, Record.record_number, Record.stay_number, Record.visit_type, Patient.name, discharged
    ).join(Patient, Patient.id == Record.patient_id)
    for key, rid, number, stay, visit, name, when in session.connection().execute(  # Core rows: no ORM loading
        query.where(one_of(session, column, sorted(numbers)))
    ):
        by_number.setdefault(key, []).append(RecordRef(rid, number, stay, visit, name, _datetime(when)))
    for refs in by_number.values():
        refs.sort(key=lambda r: (r.visit_type, r.stay))
    return by_number
