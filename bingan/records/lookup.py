"""Bulk record-number lookup (Z1): thousands of numbers, aliases included, in a few indexed queries.

Numbers are sent in chunks of at most 900 parameters, which every SQLite build accepts
(older ones stop at 999) and which keeps PostgreSQL plans on the unique index.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.storage.models import Patient, Record, RecordNumberAlias

CHUNK = 900


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


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def _aliases(session: Session, numbers: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(numbers):
        query = sa.select(RecordNumberAlias.alias, RecordNumberAlias.record_number)
        rows = session.execute(query.where(RecordNumberAlias.alias.in_(chunk)))
        found.update({alias: number for alias, number in rows})
    return found


def _records(session: Session, numbers: set[str]) -> dict[str, list[RecordRef]]:
    by_number: dict[str, list[RecordRef]] = {}
    query = sa.select(
        Record.id, Record.record_number, Record.stay_number, Record.visit_type, Patient.name, Record.discharged_at
    ).join(Patient, Patient.id == Record.patient_id)
    for chunk in _chunks(sorted(numbers)):
        for row in session.execute(query.where(Record.record_number.in_(chunk))):
            by_number.setdefault(row[1], []).append(RecordRef(*row))
    for refs in by_number.values():
        refs.sort(key=lambda r: (r.visit_type, r.stay))
    return by_number
