"""Putting captured pages right on SQLite and PostgreSQL (页面调整): deleting a page closes the gap,
re-filing moves it to the end of the other category, a new page order is the record's pages each
once, and an edited image is judged again — a reviewed page goes back to re-review (复审)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from completeness_support import ORDINARY, make_record
from pages import blurred, jpeg, text_page

from bingan.access.audit import Actor
from bingan.errors import Refusal
from bingan.records.digitisation import editing, service
from bingan.records.digitisation.images import PageImage
from bingan.storage.models import AuditEvent
from bingan.storage.models.digitisation import ScanPage, ScanReview

ADMISSION, PROGRESS = "C02", "C03"  # 入院记录, 病程记录


@pytest.fixture
def operator(world) -> Actor:
    return Actor.of(world.users["archivist"], "10.0.0.9")


@pytest.fixture
def record(session, world):
    found = make_record(session, "0200002", documents=ORDINARY)
    session.commit()
    return found


def capture(session, operator, record, shot, count=1, code=ADMISSION) -> list[ScanPage]:
    pages = service.capture(session, operator, record, service.category_by_code(session, code), [shot] * count)
    session.commit()
    return pages


def positions(session, record, code=ADMISSION) -> list[tuple[int, int]]:
    category = service.category_by_code(session, code)
    return [(page.id, page.position) for page in service.document_pages(session, record.id, category.id)]


def test_deleting_a_page_moves_the_pages_after_it_up(session, operator, record, shot):
    first, second, third = capture(session, operator, record, shot, count=3)
    service.review(session, operator, second, "reject", "非本病案页面")
    changed = editing.delete(session, operator, second)
    session.commit()
    assert changed.code == ADMISSION
    assert positions(session, record) == [(first.id, 1), (third.id, 2)]
    assert session.scalar(sa.select(sa.func.count()).select_from(ScanReview)) == 0
    assert session.scalar(sa.select(AuditEvent.detail).where(AuditEvent.action == "scan.delete")) == {
        "分类": "入院记录", "位置": 2}


def test_refiling_moves_a_page_to_the_end_of_the_other_category(session, operator, record, shot):
    [progress] = capture(session, operator, record, shot, code=PROGRESS)
    first, misfiled, last = capture(session, operator, record, shot, count=3)
    changed = editing.refile(session, operator, misfiled, service.category_by_code(session, PROGRESS))
    session.commit()
    assert [category.code for category in changed] == [ADMISSION, PROGRESS]
    assert positions(session, record) == [(first.id, 1), (last.id, 2)]
    assert positions(session, record, PROGRESS) == [(progress.id, 1), (misfiled.id, 2)]


def test_refiling_into_the_same_category_changes_nothing(session, operator, record, shot):
    [page] = capture(session, operator, record, shot)
    assert editing.refile(session, operator, page, page.category) == []


def test_a_new_page_order_numbers_each_category_by_it(session, operator, record, shot):
    a, b, c = capture(session, operator, record, shot, count=3)
    [p] = capture(session, operator, record, shot, code=PROGRESS)
    changed = editing.reorder(session, operator, record, [c.id, p.id, a.id, b.id])
    session.commit()
    assert [category.code for category in changed] == [ADMISSION]
    assert positions(session, record) == [(c.id, 1), (a.id, 2), (b.id, 3)]
    assert positions(session, record, PROGRESS) == [(p.id, 1)]


@pytest.mark.parametrize("order", ["missing", "doubled", "foreign"])
def test_a_page_order_that_is_not_every_page_once_is_refused(session, operator, record, shot, order):
    a, b = capture(session, operator, record, shot, count=2)
    given = {"missing": [b.id], "doubled": [b.id, a.id, a.id], "foreign": [b.id, a.id, 999_999]}[order]
    with pytest.raises(Refusal, match="全部页面，每页一次"):
        editing.reorder(session, operator, record, given)
    assert positions(session, record) == [(a.id, 1), (b.id, 2)]


def test_an_edited_image_of_a_passed_page_goes_back_to_re_review(session, operator, record, shot):
    [page] = capture(session, operator, record, shot)
    service.review(session, operator, page, "pass")
    image = blurred(text_page())
    editing.edit_image(session, operator, page, "rotate", service.Stored(PageImage(image, jpeg(image)), "b" * 64))
    session.commit()
    assert (page.state, page.image_sha256, page.reshoots) == ("re", "b" * 64, 0)
    assert page.flagged and "模糊" in page.quality["reasons"][0]
    assert session.scalar(sa.select(AuditEvent.detail).where(AuditEvent.action == "scan.edit"))["调整"] == "旋转"


def test_an_edited_page_never_reviewed_stays_in_first_review(session, operator, record, shot):
    [page] = capture(session, operator, record, shot)
    editing.edit_image(session, operator, page, "crop", shot)
    assert page.state == "first"


def test_the_skew_to_straighten_is_the_one_the_quality_check_measured(session, operator, record, shot):
    [page] = capture(session, operator, record, shot)
    page.quality = {"checks": [{"check": "blur", "value": 900.0}, {"check": "skew", "value": -3.25}]}
    assert editing.skew_of(page) == -3.25
