"""Putting captured pages right (页面调整), before and after saving: turn, crop, straighten or
auto-crop a page's image, delete a page, change the page order or the category a page files
under. An edited image is a new image: judged again by the quality checks, and a page already
reviewed goes back to re-review (复审). Each command names the categories whose scanned
documents changed, for the ingest side to store again."""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.errors import Refusal
from bingan.records.digitisation.service import Stored, document_pages, record_pages, replace_image
from bingan.storage.models import Category, Record
from bingan.storage.models.digitisation import ScanPage, ScanReview

EDITS = {"rotate": "旋转", "crop": "裁剪", "deskew": "纠偏", "auto_crop": "自动裁边"}


def edit_image(session: Session, actor: Actor, page: ScanPage, edit: str, stored: Stored) -> ScanPage:
    """The page's image replaced by its edited form (``edit``: one of EDITS)."""
    replace_image(page, stored)
    record_event(session, actor, "scan.edit", object_type="scan_page", object_id=page.id, record_id=page.record_id,
                 detail={"调整": EDITS[edit], "分类": page.category.name, "位置": page.position})
    return page


def skew_of(page: ScanPage) -> float:
    """The skew the quality checks measured on the page's image (degrees, counter-clockwise)."""
    for check in page.quality.get("checks", []):
        if check.get("check") == "skew":
            return float(check.get("value") or 0.0)
    return 0.0


def delete(session: Session, actor: Actor, page: ScanPage) -> Category:
    """The page taken out of its scanned document; the pages after it move up. Its review
    decisions go with it (the audit trail keeps them). The category whose document changed."""
    category, record_id, position = page.category, page.record_id, page.position
    session.execute(sa.delete(ScanReview).where(ScanReview.page_id == page.id))
    session.delete(page)
    session.flush()
    _renumber(session, record_id, category.id)
    record_event(session, actor, "scan.delete", object_type="scan_page", object_id=page.id, record_id=record_id,
                 detail={"分类": category.name, "位置": position})
    return category


def refile(session: Session, actor: Actor, page: ScanPage, category: Category) -> list[Category]:
    """The page moved to the end of another category's document (归类调整); both documents changed."""
    old = page.category
    if old.id == category.id:
        return []
    last = max((p.position for p in document_pages(session, page.record_id, category.id)), default=0)
    page.category, page.position = category, last + 1
    session.flush()
    _renumber(session, page.record_id, old.id)
    record_event(session, actor, "scan.refile", object_type="scan_page", object_id=page.id, record_id=page.record_id,
                 detail={"原分类": old.name, "新分类": category.name})
    return [old, category]


def reorder(session: Session, actor: Actor, record: Record, page_ids: Sequence[int]) -> list[Category]:
    """The record's pages in the order given (every page once); each category's pages are numbered
    by that order. The categories whose page order changed."""
    pages = {page.id: page for page in record_pages(session, record.id)}
    if len(page_ids) != len(set(page_ids)) or set(page_ids) != set(pages):
        raise Refusal("页序应列出该病案的全部页面，每页一次")
    changed: dict[int, Category] = {}
    numbers: dict[int, int] = {}
    for page_id in page_ids:
        page = pages[page_id]
        numbers[page.category_id] = numbers.get(page.category_id, 0) + 1
        if page.position != numbers[page.category_id]:
            page.position = numbers[page.category_id]
            changed[page.category_id] = page.category
    if changed:
        record_event(session, actor, "scan.reorder", object_type="record", object_id=record.id, record_id=record.id,
                     detail={"分类": "、".join(category.name for category in changed.values())})
    return list(changed.values())


def _renumber(session: Session, record_id: int, category_id: int) -> None:
    for number, page in enumerate(document_pages(session, record_id, category_id), start=1):
        page.position = number
