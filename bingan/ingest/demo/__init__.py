"""Deterministic demo and benchmark data: a hospital's patients, stays with front pages, documents as PDF and OFD.

``generate(n, seed)`` yields the same records for the same arguments. ``demo_load.load_demo``
writes patients and records straight into the database (as a basic-data sync would) and sends
every document through the real pipeline.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

from bingan.ingest.demo.documents import OFD_TYPES, DemoDocument, documents, revised
from bingan.ingest.demo.hospital import CAMPUSES, DEPARTMENTS, SHOWCASE, STAFF, START, DemoRecord, patients, stay
from bingan.ingest.demo.render import CID_FONT, document_bytes, pdf_bytes, write_files

__all__ = [
    "CAMPUSES",
    "CID_FONT",
    "DEPARTMENTS",
    "OFD_TYPES",
    "STAFF",
    "DemoDocument",
    "DemoRecord",
    "document_bytes",
    "generate",
    "pdf_bytes",
    "write_files",
]


def generate(n: int, seed: int = 2026, *, scanned: int = 0) -> Iterator[DemoRecord]:
    """``n`` records (some patients with a second stay in the same department).

    The last ``scanned`` records carry a scanned admission record: OCR is slow, so a loader
    working in order makes the born-digital records searchable first.
    """
    rng = random.Random(seed)
    patient_no = 0
    made = 0
    while made < n:
        patient_no += 1
        stays = 2 if rng.random() < 0.15 and made + 1 < n else 1
        shown = SHOWCASE[patient_no - 1] if patient_no <= len(SHOWCASE) else None
        dept, person = patients(rng, shown)
        admitted = START + timedelta(days=rng.randint(0, 540), hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
        for stay_no in range(1, stays + 1):
            record = stay(rng, f"{100000 + patient_no:07d}", stay_no, dept, person, admitted, shown)
            record.documents = list(documents(rng, record, scan=made >= n - scanned))
            record.revisions = revised(rng, record)
            made += 1
            yield record
            admitted = record.discharged_at + timedelta(days=rng.randint(30, 120))
