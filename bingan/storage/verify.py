"""`bingan verify`: re-hash every blob and cross-check blobs against the rows that point at them.

The database is the truth and blobs are fsynced before their row commits, so after a crash
the only acceptable debris is an orphan: a blob or temp file no row points at, which
``collect`` removes once it is older than a grace period (a blob younger than that may be
waiting for its row to commit).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.storage.blobs.port import BlobCorrupt, BlobError, BlobMissing, BlobStore
from bingan.storage.models import Document, Page, Version

# Every table column that addresses a blob by SHA-256. Domains that keep blobs of their own
# (rendered page caches, exports, seal lists…) append their query here.
BLOB_REFERENCES: list[Callable[[Session], Iterable[str]]] = [
    lambda session: session.scalars(sa.select(Version.sha256).distinct()),
]


@dataclass
class VerifyReport:
    blobs_checked: int = 0
    missing: list[str] = field(default_factory=list)  # rows point at a blob that is not there
    corrupt: list[str] = field(default_factory=list)  # the blob fails authentication or its hash
    orphans: list[str] = field(default_factory=list)  # blobs no row points at (collectable)
    temp_debris: list[str] = field(default_factory=list)  # unfinished writes (collectable)
    dangling: list[str] = field(default_factory=list)  # rows inconsistent with other rows
    other: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupt or self.dangling or self.other or self.orphans
                    or self.temp_debris)

    @property
    def only_collectable(self) -> bool:
        """True when nothing is wrong but orphans and temp debris that `--collect` removes."""
        return not (self.missing or self.corrupt or self.dangling or self.other)


def referenced_shas(session: Session) -> set[str]:
    shas: set[str] = set()
    for query in BLOB_REFERENCES:
        shas.update(query(session))
    return shas


def dangling_rows(session: Session) -> list[str]:
    """Rows whose partners are missing or inconsistent (foreign keys catch the rest)."""
    problems = []
    no_current = session.scalars(
        sa.select(Document.id).where(Document.current_version_id.is_(None), Document.versions.any())
    ).all()
    problems += [f"文书 {doc_id} 有版本但没有当前版本" for doc_id in no_current]
    foreign_current = session.execute(
        sa.select(Document.id, Version.document_id)
        .join(Version, Version.id == Document.current_version_id)
        .where(Version.document_id != Document.id)
    ).all()
    problems += [f"文书 {doc_id} 的当前版本属于文书 {other}" for doc_id, other in foreign_current]
    page_mismatch = session.execute(
        sa.select(Version.id, Version.page_count, sa.func.count(Page.id))
        .outerjoin(Page, Page.version_id == Version.id)
        .group_by(Version.id, Version.page_count)
        .having(sa.func.count(Page.id) > Version.page_count)
    ).all()
    problems += [f"版本 {vid} 的页记录 {n} 多于页数 {count}" for vid, count, n in page_mismatch]
    return problems


def verify(
    session: Session,
    store: BlobStore,
    *,
    rehash: bool = True,
    extra_checks: Iterable[Callable[[Session], list[str]]] = (),
) -> VerifyReport:
    """Cross-check blobs and rows; ``extra_checks`` come from higher layers (the audit hash chain)."""
    report = VerifyReport()
    referenced = referenced_shas(session)
    stored = set(store.iter_shas())
    report.missing = sorted(referenced - stored)
    report.orphans = sorted(stored - referenced)
    if rehash:
        for sha in sorted(stored):
            report.blobs_checked += 1
            try:
                store.check(sha)
            except (BlobCorrupt, BlobMissing, BlobError) as exc:
                report.corrupt.append(f"{sha}: {exc}")
    report.temp_debris = store.scan_orphan_temp()
    report.dangling = dangling_rows(session)
    for check in extra_checks:
        report.other += check(session)
    return report


def collect(store: BlobStore, report: VerifyReport, *, min_age_seconds: float = 3600) -> int:
    """Delete orphan blobs and temp debris older than the grace period; returns how many."""
    removed = store.collect_orphan_temp(min_age_seconds)
    for sha in report.orphans:
        if store.age_seconds(sha) >= min_age_seconds:
            store.delete(sha)
            removed += 1
    return removed
