"""Captured pages and their review (拍摄、初审、复审、返工, C1–C4).

A captured page enters the first-review queue (初审) with its quality verdicts; flagged pages
come first. A reviewer passes it or rejects it with a reason; a rejected page waits in the
operator's rework queue (待重拍) until it is re-shot, then returns to re-review (复审). The pages
of one category, in position order, are one scanned document of the record: the ingest side
(bingan/ingest/scans.py) turns them into a new version after every capture or re-shot.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.clock import iso
from bingan.errors import Conflict, NotFound, Refusal
from bingan.records import lifecycle
from bingan.records.completeness.checks import missing_categories, unfinished_items
from bingan.records.digitisation.images import PageImage
from bingan.records.digitisation.quality import check_page
from bingan.storage.models import Category, DocumentType, Record, User, utcnow
from bingan.storage.models.digitisation import PAGE_STATES, ScanPage, ScanReview
from bingan.storage.models.organisation import VISIT_NAMES, scope_covers

QUEUES = {"first": "初审", "re": "复审", "rework": "返工（待重拍）"}
# Who works a queue: reviewers (影像审核) the first review and re-review, operators (拍摄) their rework.
QUEUE_PERMISSIONS = {"first": "scan.review", "re": "scan.review", "rework": "scan.capture"}
QUEUE_ACTIONS = {"first": "scan_review", "re": "scan_review", "rework": "scan"}  # the gate's action per queue
DECISIONS = {"pass": "通过", "reject": "退回重拍"}
MAX_REASON = 500
QUEUE_LIMIT = 200
# One-click archive (一键归档) walks the life cycle from these states only: a paper record nobody
# has submitted yet, or one submitted that no quality controller has taken. A record in QC is the
# controller's to finish; a returned or recalled one goes back through QC with its comments.
ARCHIVE_PATHS = {"awaiting": ("submitted", "qc", "archived"), "submitted": ("qc", "archived")}


@dataclass(frozen=True)
class Stored:
    """A page image stored in the blob store, ready to become a page row."""

    image: PageImage
    sha256: str


def category_by_code(session: Session, code: str, visit_type: str | None = None) -> Category:
    """An active category that has a document type for its scanned document (and, given the record's
    visit type, applies to it)."""
    category = session.scalars(sa.select(Category).where(Category.code == code.strip())).one_or_none()
    if category is None or not category.active:
        raise Refusal(f"病案分类“{code}”不存在或已停用")
    if visit_type is not None and not scope_covers(category.visit_scope, visit_type):
        raise Refusal(f"病案分类“{category.name}”不适用于{VISIT_NAMES.get(visit_type, visit_type)}病案")
    if document_type_of(session, category) is None:
        raise Refusal(f"病案分类“{category.name}”下没有可用的文书类型，无法保存扫描件")
    return category


def capture_categories(session: Session, visit_type: str | None = None) -> list[Category]:
    """The categories a page can be filed under (active, with a document type), in filing order; given a
    visit type, only those that apply to it (住院 or 门诊)."""
    with_type = sa.select(DocumentType.category_id).where(DocumentType.active)
    query = sa.select(Category).where(Category.active, Category.id.in_(with_type))
    if visit_type is not None:
        query = query.where(Category.visit_scope.in_(("both", visit_type)))
    return list(session.scalars(query.order_by(Category.filing_order, Category.id)))


def document_type_of(session: Session, category: Category) -> DocumentType | None:
    """The type a scanned document of this category files as: the category's first in filing order."""
    return session.scalars(
        sa.select(DocumentType).where(DocumentType.category_id == category.id, DocumentType.active)
        .order_by(DocumentType.filing_order, DocumentType.id).limit(1)
    ).first()


def capture(session: Session, actor: Actor, record: Record, category: Category,
            stored: Sequence[Stored]) -> list[ScanPage]:
    """New pages at the end of the category's scanned document, judged by the quality checks."""
    if not stored:
        raise Refusal("没有收到任何页面")
    position = _last_position(session, record.id, category.id)
    pages = []
    for offset, item in enumerate(stored, start=1):
        quality = check_page(item.image.image)
        page = ScanPage(record_id=record.id, category_id=category.id, position=position + offset,
                        image_sha256=item.sha256, media_type=item.image.media_type, width=item.image.image.width,
                        height=item.image.image.height, quality=quality.as_json(), flagged=quality.flagged,
                        state="first", captured_by_id=actor.user_id)
        session.add(page)
        pages.append(page)
    session.flush()
    record_event(session, actor, "scan.capture", object_type="record", object_id=record.id, record_id=record.id,
                 detail={"分类": category.name, "页数": len(pages), "质量提示页数": sum(p.flagged for p in pages)})
    return pages


def _last_position(session: Session, record_id: int, category_id: int) -> int:
    return session.scalar(sa.select(sa.func.max(ScanPage.position)).where(
        ScanPage.record_id == record_id, ScanPage.category_id == category_id)) or 0


def page_by_id(session: Session, page_id: int) -> ScanPage:
    page = session.get(ScanPage, page_id)
    if page is None:
        raise NotFound("页面不存在")
    return page


def review(session: Session, actor: Actor, page: ScanPage, decision: str, reason: str = "") -> ScanPage:
    """Pass or reject a page waiting in first review or re-review; a rejection needs its reason."""
    reason = reason.strip()
    if decision not in DECISIONS:
        raise Refusal("审核结论应为 pass（通过）或 reject（退回重拍）")
    if decision == "reject" and not reason:
        raise Refusal("退回重拍必须填写原因")
    if len(reason) > MAX_REASON:
        raise Refusal(f"原因不能超过 {MAX_REASON} 字")
    if page.state not in ("first", "re"):
        raise Conflict(f"该页面当前为“{PAGE_STATES[page.state]}”，不在审核队列中")
    queue = page.state
    session.add(ScanReview(page_id=page.id, queue=queue, decision=decision, reason=reason,
                           reviewer_id=actor.user_id))
    page.state = "passed" if decision == "pass" else "rework"
    page.reject_reason = reason if decision == "reject" else ""
    page.reviewed_by_id, page.reviewed_at = actor.user_id, utcnow()
    record_event(session, actor, "scan.review", object_type="scan_page", object_id=page.id, record_id=page.record_id,
                 detail={"队列": QUEUES[queue], "结论": DECISIONS[decision], "原因": reason})
    return page


def reshoot(session: Session, actor: Actor, page: ScanPage, stored: Stored) -> ScanPage:
    """The page's image replaced by a new shot, judged again; a page already reviewed goes to
    re-review (复审), one never reviewed stays in first review."""
    replace_image(page, stored)
    page.reshoots += 1
    page.captured_by_id, page.captured_at = actor.user_id, utcnow()
    record_event(session, actor, "scan.reshoot", object_type="scan_page", object_id=page.id, record_id=page.record_id,
                 detail={"分类": page.category.name, "位置": page.position, "原因": page.reject_reason})
    return page


def replace_image(page: ScanPage, stored: Stored) -> None:
    """The page shows a new image (re-shot or edited), judged again; a page already reviewed goes
    to re-review (复审), one never reviewed stays in first review."""
    quality = check_page(stored.image.image)
    page.image_sha256, page.media_type = stored.sha256, stored.image.media_type
    page.width, page.height = stored.image.image.width, stored.image.image.height
    page.quality, page.flagged = quality.as_json(), quality.flagged
    if page.state != "first":
        page.state = "re"


@dataclass(frozen=True)
class Finished:
    """What "拍摄完成" found: the record's pages by state, and whether it was archived."""

    record: Record
    summary: dict[str, int]
    archived: bool


def finish(session: Session, actor: Actor, record: Record, archive: bool = False) -> Finished:
    """拍摄完成 (G4): refused while a required paper category has no page, or a rejected page waits
    for its re-shot; with ``archive`` the record is also archived once every page passed review."""
    summary = review_summary(session, record.id)
    if not sum(summary.values()):
        raise Refusal("该病案还没有拍摄任何页面，不能拍摄完成")
    missing = still_missing(session, record)
    if missing:
        raise Refusal(f"以下必需的纸质分类尚未拍摄：{'、'.join(missing)}，不能拍摄完成")
    if summary["rework"]:
        raise Refusal(f"还有 {summary['rework']} 页被退回待重拍，重拍后才能拍摄完成")
    record_event(session, actor, "scan.finish", object_type="record", object_id=record.id, record_id=record.id,
                 detail={"页数": sum(summary.values())} | {PAGE_STATES[s]: n for s, n in summary.items() if n})
    if archive:
        _archive(session, actor, record, summary)
    return Finished(record, summary, archive)


def still_missing(session: Session, record: Record) -> list[str]:
    """The completeness rules' missing categories, less those with captured pages: a page just
    captured counts before the pipeline has stored its document."""
    captured = set(session.scalars(sa.select(Category.name).join(ScanPage, ScanPage.category_id == Category.id)
                                   .where(ScanPage.record_id == record.id)))
    return [name for name in missing_categories(session, record) if name not in captured]


def _archive(session: Session, actor: Actor, record: Record, summary: dict[str, int]) -> None:
    """一键归档 through the life cycle's own moves, once review passed and the scans are stored
    (archiving earlier would turn the scanned documents into pending changes)."""
    path = ARCHIVE_PATHS.get(record.status)
    if path is None:
        raise Conflict(f"病案当前状态为“{lifecycle.state_name(record.status)}”，"
                       "一键归档只适用于待提交或待质控的病案")
    waiting = summary["first"] + summary["re"]
    if waiting:
        raise Conflict(f"还有 {waiting} 页未审核通过，不能归档")
    if unfinished_items(session, record):
        raise Conflict("扫描件仍在处理（识别、入库），请稍后再归档")
    for status in path:
        lifecycle.move(session, actor, record, status, "纸质病案数字化审核通过，一键归档")


def queue(session: Session, name: str, limit: int = QUEUE_LIMIT) -> list[ScanPage]:
    """A review queue, oldest first — pages the quality checks flagged before all others."""
    if name not in QUEUES:
        raise Refusal("队列应为 first（初审）、re（复审）或 rework（返工）")
    return list(session.scalars(
        sa.select(ScanPage).where(ScanPage.state == name)
        .order_by(ScanPage.flagged.desc(), ScanPage.captured_at, ScanPage.id).limit(limit)
    ))


def queue_size(session: Session, name: str) -> int:
    """How many pages wait in a queue (the menu's to-do count)."""
    return session.scalar(sa.select(sa.func.count()).select_from(ScanPage).where(ScanPage.state == name)) or 0


def document_pages(session: Session, record_id: int, category_id: int) -> list[ScanPage]:
    """The pages of one category's scanned document, in filing position."""
    return list(session.scalars(sa.select(ScanPage).where(
        ScanPage.record_id == record_id, ScanPage.category_id == category_id).order_by(ScanPage.position)))


def record_pages(session: Session, record_id: int) -> list[ScanPage]:
    """All captured pages of a record, in filing order (category, then position)."""
    return list(session.scalars(
        sa.select(ScanPage).join(Category, Category.id == ScanPage.category_id)
        .where(ScanPage.record_id == record_id).order_by(Category.filing_order, Category.id, ScanPage.position)
    ))


def review_summary(session: Session, record_id: int) -> dict[str, int]:
    """How many of the record's pages stand in each state."""
    rows = session.execute(sa.select(ScanPage.state, sa.func.count()).where(ScanPage.record_id == record_id)
                           .group_by(ScanPage.state))
    counts = dict.fromkeys(PAGE_STATES, 0)
    counts.update({state: count for state, count in rows})
    return counts


def page_json(page: ScanPage) -> dict:
    record = page.record
    return {
        "page_id": page.id, "record_id": page.record_id, "record_number": record.record_number,
        "stay": record.stay_number, "name": record.patient.name,
        "category": page.category.code, "category_name": page.category.name, "position": page.position,
        "state": page.state, "state_name": PAGE_STATES[page.state], "flagged": page.flagged,
        "quality": page.quality, "reject_reason": page.reject_reason, "reshoots": page.reshoots,
        "width": page.width, "height": page.height,
        "captured_at": iso(page.captured_at),
        "captured_by": _name(page.captured_by),
        "image_url": f"/api/v1/pages/{page.id}/image",
    }


def _name(user: User | None) -> str:
    return (user.full_name or user.username) if user else ""
