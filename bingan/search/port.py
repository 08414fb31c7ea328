"""The SearchIndex port: what the rest of Bingan may ask of a full-text index.

The unit of indexing is one page of one current document version. Adapters (tantivy,
Elasticsearch) implement ``SearchIndex``; callers build a ``Scope`` from the access policy
and pass it with every search, and the adapter turns it into must / must-not clauses of
the index query itself (never a post-filter of a page of hits).
"""
from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from bingan import clock

RecordKind = Literal["normal", "death", "special"]
Sort = Literal["relevance", "discharged_desc", "discharged_asc"]
FACET_NAMES = ("category", "department", "year", "record_kind")
# Confidentiality levels a page may carry (the access policy uses 0..3); a page with a level
# outside is found by no scope, in every adapter.
CONFIDENTIALITY_LEVELS = range(10)


@dataclass(slots=True)
class PageDoc:
    """One page of one current version, with the record fields needed to filter and show it."""

    record_id: int
    record_number: str
    stay: int
    document_id: int
    version_id: int
    page: int
    text: str
    patient_name: str = ""
    id_number: str = ""
    aliases: list[str] = field(default_factory=list)
    category: str = ""
    category_name: str = ""
    document_type: str = ""
    document_type_name: str = ""
    department: str = ""
    department_name: str = ""
    campus: str = ""
    admitted_at: date | datetime | None = None
    discharged_at: date | datetime | None = None
    year: int | None = None
    record_kind: RecordKind = "normal"
    confidentiality: int = 0
    tags: list[str] = field(default_factory=list)
    diagnosis_codes: list[str] = field(default_factory=list)
    diagnosis_names: list[str] = field(default_factory=list)
    operation_codes: list[str] = field(default_factory=list)
    operation_names: list[str] = field(default_factory=list)
    sealed: bool = False

    @property
    def doc_id(self) -> str:
        return f"{self.version_id}:{self.page}"

    @property
    def discharge_year(self) -> int | None:
        if self.year is not None:
            return self.year
        return clock.local_date(self.discharged_at).year if self.discharged_at else None


@dataclass(frozen=True, slots=True)
class RecordAccess:
    """A record's access facts as the index stores them on each of its pages (plus the
    department's name, shown with the hits), for updating them in place after a change."""

    record_id: int
    department: str
    department_name: str
    campus: str
    confidentiality: int
    tags: list[str]
    sealed: bool


@dataclass(slots=True)
class Scope:
    """What one user may find, built by the access layer.

    Visibility of a page = (department in ``departments`` or ``all_departments``, and campus
    in ``campuses``) **or** its record is in ``granted_record_ids`` (a time-bounded grant,
    e.g. an approved borrowing, which crosses department and campus); and in every case
    confidentiality in ``CONFIDENTIALITY_LEVELS`` and ≤ ``max_confidentiality``, no tag in ``denied_tags``, category in
    ``allowed_categories`` (None = all), not sealed unless ``include_sealed``, and the record not in
    ``withheld_record_ids`` (records whose access facts changed and whose index terms are not yet
    updated, when the gate now refuses them: see bingan/ingest/access_refresh.py).
    """

    all_departments: bool = False
    departments: set[str] = field(default_factory=set)
    campuses: set[str] | None = None
    max_confidentiality: int = 0
    denied_tags: set[str] = field(default_factory=set)
    granted_record_ids: set[int] = field(default_factory=set)
    allowed_categories: set[str] | None = None
    include_sealed: bool = False
    withheld_record_ids: set[int] = field(default_factory=set)

    @classmethod
    def everything(cls) -> Scope:
        """For operators and maintenance tasks: every page, sealed ones included."""
        return cls(all_departments=True, max_confidentiality=3, include_sealed=True)

    def admits(self, doc: PageDoc) -> bool:
        """The same rule in plain Python (used by the tests and the benchmark's checker)."""
        org = (self.all_departments or doc.department in self.departments) and (
            self.campuses is None or doc.campus in self.campuses
        )
        return (
            (org or doc.record_id in self.granted_record_ids)
            and doc.confidentiality in CONFIDENTIALITY_LEVELS
            and doc.confidentiality <= self.max_confidentiality
            and not (set(doc.tags) & self.denied_tags)
            and (self.allowed_categories is None or doc.category in self.allowed_categories)
            and (self.include_sealed or not doc.sealed)
            and doc.record_id not in self.withheld_record_ids
        )


@dataclass(slots=True)
class PageHit:
    document_id: int
    version_id: int
    document_type_name: str
    category_name: str
    page: int
    snippet: str
    score: float


@dataclass(slots=True)
class RecordHit:
    record_id: int
    record_number: str
    stay: int
    patient_name: str
    department_name: str
    discharged_at: date | None
    score: float
    hits: list[PageHit]
    matched_pages: int  # pages of this record among the collected hits


@dataclass(slots=True)
class SearchResult:
    """``total`` counts the pages hit; facet counts are records.

    ``total_records`` is exact when ``total_records_exact``; beyond the exact-count limit of
    the adapter it is an estimate (shown to users as "约").
    """

    total: int
    total_records: int
    records: list[RecordHit]
    facets: dict[str, list[tuple[str, int]]]
    total_records_exact: bool = True
    warnings: list[str] = field(default_factory=list)
    suggestion: str = ""  # the query the user probably meant (是否要找…), or ""


class SearchIndex(abc.ABC):
    """Port implemented by the tantivy and Elasticsearch adapters."""

    @abc.abstractmethod
    def add(self, docs: Iterable[PageDoc]) -> int:
        """Upsert pages by doc id (version:page); visible after ``commit``. Returns the count."""

    @abc.abstractmethod
    def delete_versions(self, version_ids: Iterable[int]) -> None: ...

    @abc.abstractmethod
    def delete_record(self, record_id: int) -> None: ...

    @abc.abstractmethod
    def update_access(self, access: RecordAccess, pages: Callable[[], list[PageDoc]]) -> None:
        """Give every indexed page of ``access.record_id`` these access facts (visible after
        ``commit``). ``pages`` builds the record's current pages from the database, for an
        adapter that cannot update fields in place."""

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def search(
        self,
        query: str,
        scope: Scope,
        *,
        limit: int = 20,
        offset: int = 0,
        group_by_record: bool = True,
        facets: bool = True,
        sort: Sort = "relevance",
    ) -> SearchResult:
        """Raises ``QueryError`` (Chinese message) for a malformed query.

        With ``group_by_record`` ``limit``/``offset`` count records; otherwise every record
        entry holds exactly one page hit and they count pages.
        """

    @property
    @abc.abstractmethod
    def count(self) -> int:
        """Pages in the index (committed)."""

    @property
    @abc.abstractmethod
    def schema_version(self) -> int: ...

    @abc.abstractmethod
    def needs_rebuild(self) -> bool:
        """True when the stored index was built with another schema version."""

    @abc.abstractmethod
    def optimize(self) -> None:
        """Merge segments and drop deleted documents and dead files."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Remove every page (and adopt the current schema version)."""

    def close(self) -> None:  # noqa: B027 — optional hook
        """Release the writer lock / connections."""

    def merge(self) -> None:
        self.optimize()
