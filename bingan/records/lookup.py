"""Bulk record-number lookup (Z1): thousands of numbers, aliases included, in two indexed queries.

The numbers travel as ONE parameter whatever their count: a JSON array read by ``json_each``
on SQLite, an array compared with ``= ANY`` on PostgreSQL. That is below any bind limit, is one
statement to plan, and each database probes the unique index per number (bench/ingest.py).
Rows are read through Core: thousands of found rows need no ORM identity map or loading.
"""
from __future__ import annotations

import json
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
    """``found`` is keyed by the number as asked (an alias maps to its record number's records)."""

    found: dict[str, list[RecordRef]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    via_alias: dict[str, str] = field(default_factory=dict)  # asked alias -> record number


def lookup_record_numbers(session: Session, numbers: Iterable[str]) -> LookupResult:
    asked = _clean(numbers)
    canonical = dict.fromkeys(asked)
    aliases = _aliases(session, asked)
    targets = {number: aliases.get(number, number) for number in canonical}
    records = _records(session, set(targets.values()))
    result = LookupResult(via_alias={a: n for a, n in aliases.items() if a in canonical})
    for number, target in targets.items():
        refs = records.get(target) or records.get(number)
        if refs:
            result.found[number] = refs
        else:
            result.missing.append(number)
    return result


def _clean(numbers: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(n.strip() for n in numbers if n and n.strip()))


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


def _records(session: Session, numbers: set[str]) -> dict[str, list[RecordRef]]:
    by_number: dict[str, list[RecordRef]] = {}
    if not numbers:
        return by_number
    # On SQLite the discharge time comes as stored and is parsed with the C fromisoformat,
    # cheaper than SQLAlchemy's per-row DateTime processing over thousands of rows.
    discharged = sa.type_coerce(Record.discharged_at, sa.String) if _sqlite(session) else Record.discharged_at
    query = sa.select(
        Record.id, Record.record_number, Record.stay_number, Record.visit_type, Patient.name, discharged
    ).join(Patient, Patient.id == Record.patient_id)
    for rid, number, stay, visit, name, when in session.connection().execute(  # Core rows: no ORM loading
        query.where(one_of(session, Record.record_number, sorted(numbers)))
    ):
        by_number.setdefault(number, []).append(RecordRef(rid, number, stay, visit, name, _datetime(when)))
    for refs in by_number.values():
        refs.sort(key=lambda r: (r.visit_type, r.stay))
    return by_number
