"""What the QC screen (质控界面, H4) shows of one record: its documents in filing order with their
pages and, after a re-collection, which pages changed (added / updated / removed, from the
versions' per-page hashes) and the versions to compare; the self-check; comments and history."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan.access.policy import Subject, decide_for
from bingan.records.completeness.checks import CheckReport, latest_checks
from bingan.records.qc.service import current_review, open_return, step_name
from bingan.records.qc.worklist import history_of
from bingan.storage.models import Document, DocumentType, Record, User, Version
from bingan.storage.models.qc import COMMENT_KINDS, QcComment, QcReview

CHANGE_NAMES = {"added": "新增", "updated": "修改", "removed": "删除"}


@dataclass
class Entry:
    """One document as the reviewer reads it: its current version and, if it replaced an earlier
    one, the page changes against that version."""

    document: Document
    version: Version
    previous: Version | None = None
    changes: dict[str, list[int]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.document.title or self.document.document_type.name

    @property
    def compare_link(self) -> str:
        if self.previous is None:
            return ""
        return f"/documents/{self.document.id}/compare?a={self.previous.number}&b={self.version.number}"

    def change_of(self, page: int) -> str:
        """新增/修改 for a page of the current version ('' if unchanged)."""
        return next((kind for kind in ("added", "updated") if page in self.changes.get(kind, [])), "")


@dataclass
class Screen:
    record: Record
    review: QcReview | None
    entries: list[Entry]
    check: CheckReport | None
    comments: list[QcComment]
    history: list[dict]

    @property
    def step(self) -> str:
        return step_name(self.review)


def documents_in_filing_order(session: Session, subject: Subject, record: Record) -> list[Entry]:
    """The documents the reviewer may view, in archive filing order (category, type, time)."""
    documents = session.scalars(
        sa.select(Document).where(Document.record_id == record.id, ~Document.removed,
                                  Document.current_version_id.is_not(None))
        .options(selectinload(Document.document_type).selectinload(DocumentType.category),
                 selectinload(Document.current_version))).all()
    visible = [d for d in documents if decide_for(subject, "view", record, document=d)]
    visible.sort(key=lambda d: (d.document_type.category.filing_order, d.document_type.filing_order,
                                d.written_at or d.created_at, d.id))
    previous = _previous_versions(session, [d.current_version for d in visible])
    entries = []
    for document in visible:
        version = document.current_version
        before = previous.get(version.id)
        changes = {kind: list(pages) for kind, pages in (version.page_changes or {}).items() if pages}
        entries.append(Entry(document, version, before, changes if before is not None else {}))
    return entries


def _previous_versions(session: Session, versions: list[Version]) -> dict[int, Version]:
    """Current version id → the version it replaced (number − 1), for documents re-collected."""
    wanted = {(v.document_id, v.number - 1): v.id for v in versions if v.number > 1}
    if not wanted:
        return {}
    rows = session.scalars(sa.select(Version).where(
        Version.document_id.in_({document_id for document_id, _number in wanted}),
        Version.number.in_({number for _document_id, number in wanted})))
    return {wanted[(v.document_id, v.number)]: v for v in rows if (v.document_id, v.number) in wanted}


def screen(session: Session, subject: Subject, record: Record) -> Screen:
    comments = list(session.scalars(sa.select(QcComment).where(QcComment.record_id == record.id)
                                    .options(selectinload(QcComment.author), selectinload(QcComment.document))
                                    .order_by(QcComment.id)))
    return Screen(record, current_review(session, record.id), documents_in_filing_order(session, subject, record),
                  latest_checks(session, record.id), comments, history_of(session, record.id))


def comment_json(found: QcComment) -> dict:
    return {"id": found.id, "document_id": found.document_id, "page": found.page, "type": found.kind,
            "type_name": COMMENT_KINDS[found.kind], "text": found.text, "step": found.step,
            "author": _name(found.author),
            "created_at": found.created_at.isoformat(), "sent": found.return_id is not None,
            "return_id": found.return_id, "reply": found.reply,
            "replied_at": found.replied_at.isoformat() if found.replied_at else None}


def as_json(view: Screen, session: Session) -> dict:
    record, review = view.record, view.review
    returned = open_return(session, record.id) if record.status == "returned" else None
    return {
        "record_id": record.id, "record_number": record.record_number, "status": record.status,
        "review": None if review is None else {
            "id": review.id, "flow": review.flow_name, "step": step_name(review), "status": review.status,
            "assigned_to": _name(review.assigned_to) if review.assigned_to else None},
        "open_return": None if returned is None else {
            "id": returned.id, "returned_by": _name(returned.returned_by),
            "owners": [_name(owner.user) for owner in returned.owners]},
        "self_check": None if view.check is None else {
            "passed": view.check.passed, "findings": [
                {"check": f.check, "severity": f.severity, "message": f.message, "document_id": f.document_id,
                 "page": f.page} for f in view.check.findings]},
        "documents": [{"id": e.document.id, "name": e.name, "version": e.version.number,
                       "pages": e.version.page_count, "changes": e.changes, "compare": e.compare_link or None}
                      for e in view.entries],
        "comments": [comment_json(found) for found in view.comments],
        "archived_at": record.archived_at.isoformat() if record.archived_at else None,
    }


def _name(user: User) -> str:
    return user.full_name or user.username
