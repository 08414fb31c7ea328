"""Limited share links (issue 15 item 7, F3, S14) on a real database: a link shows only the chosen
categories to its named recipient, each opening is counted and audited, and it stops after its
views, after its date, when revoked and when its record is sealed."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bingan.access.audit import Actor
from bingan.access.policy import load_subject
from bingan.errors import Conflict, NotFound, Refusal
from bingan.records import lifecycle
from bingan.records.release import share_links
from bingan.storage.models import AuditEvent, utcnow
from bingan.storage.models.release import ShareLink, ShareLinkOpening

IP = "203.0.113.7"


def _make(session, world, *, categories=None, max_views=3, days=7, recipient="协和医院 张医生", record=None):
    user = world.users["archivist"]
    form = share_links.ShareForm(recipient, utcnow() + timedelta(days=days), max_views, categories, "外院会诊")
    link, token = share_links.create_link(session, Actor.of(user, "10.0.0.5"), user, load_subject(session, user),
                                          record or world.records["normal"], form)
    session.commit()
    return link, token


def _category(world, index: int) -> str:
    return world.documents["normal"][index].document_type.category.code


def _open(session, token, now=None):
    link, key = share_links.open_link(session, token, IP, "Mozilla/5.0 测试浏览器", now=now)
    session.commit()
    return link, key


def test_a_link_shares_only_the_chosen_categories(session, world):
    link, _ = _make(session, world, categories=[_category(world, 1)])
    assert [item["title"] for item in link.items] == ["出院记录"]
    assert link.items[0]["pages"] == 3 and link.items[0]["version"] == 1


def test_without_categories_every_document_is_shared_in_filing_order(session, world):
    link, _ = _make(session, world)
    assert sorted(item["title"] for item in link.items) == ["住院病案首页", "入院记录", "出院记录"]


def test_only_the_hash_of_the_token_is_stored(session, world):
    link, token = _make(session, world)
    assert len(token) >= 40 and link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert share_links.find_link(session, token).id == link.id
    assert share_links.find_link(session, token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_a_link_stops_after_its_views(session, world):
    _, token = _make(session, world, max_views=2)
    _open(session, token)
    link, _ = _open(session, token)
    assert link.views == 2
    with pytest.raises(share_links.LinkRefused, match="可打开 2 次，次数已用完"):
        _open(session, token)
    assert session.get(ShareLink, link.id).views == 2


def test_a_link_stops_after_its_date(session, world):
    link, token = _make(session, world, days=2)
    _open(session, token, now=utcnow() + timedelta(days=1))
    with pytest.raises(share_links.LinkRefused, match="过期"):
        _open(session, token, now=utcnow() + timedelta(days=2, minutes=1))
    assert share_links.status_of(link, world.records["normal"], utcnow() + timedelta(days=3)) == "expired"


def test_a_revoked_link_opens_no_more_and_stops_an_opening_under_way(session, world):
    link, token = _make(session, world)
    _, key = _open(session, token)
    share_links.revoke(session, Actor.of(world.users["archivist"]), world.users["archivist"], link)
    session.commit()
    with pytest.raises(share_links.LinkRefused, match="撤销"):
        _open(session, token)
    with pytest.raises(share_links.LinkRefused, match="撤销"):
        share_links.viewable(session, link, key)
    with pytest.raises(Conflict, match="已撤销"):
        share_links.revoke(session, Actor.of(world.users["archivist"]), world.users["archivist"], link)


def test_a_sealed_record_gets_no_link_and_its_links_stop(session, world):
    link, token = _make(session, world)
    with pytest.raises(Refusal, match="封存"):
        _make(session, world, record=world.records["sealed"])
    lifecycle.seal(session, lifecycle.SYSTEM, world.records["normal"], "医疗纠纷")
    session.commit()
    with pytest.raises(share_links.LinkRefused, match="封存"):
        _open(session, token)
    assert share_links.status_of(link, world.records["normal"]) == "sealed"


def test_each_opening_is_kept_and_audited_with_its_address(session, world):
    link, token = _make(session, world)
    _open(session, token)
    _open(session, token)
    openings = share_links.openings_of(session, link)
    assert [(o.client_ip, o.user_agent) for o in openings] == [(IP, "Mozilla/5.0 测试浏览器")] * 2
    events = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "share_link.open")
                             .order_by(AuditEvent.id)).all()
    assert [(e.client_ip, e.record_id, e.detail["接收人"], e.detail["第几次"]) for e in events] == [
        (IP, link.record_id, "协和医院 张医生", 1), (IP, link.record_id, "协和医院 张医生", 2)]


def test_a_refused_opening_is_audited_as_denied(session, world):
    _, token = _make(session, world, max_views=1)
    _open(session, token)
    with pytest.raises(share_links.LinkRefused):
        _open(session, token)
    denied = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "share_link.refused")).one()
    assert denied.result == "denied" and denied.client_ip == IP and denied.detail["原因"] == "次数已用完"


def test_pages_are_served_only_within_the_links_scope(session, world):
    link, token = _make(session, world, categories=[_category(world, 1)])
    _, key = _open(session, token)
    share_links.viewable(session, link, key)
    shared = world.documents["normal"][1]
    item, version = share_links.shared_page(session, link, shared.id, 3)
    assert item["document_id"] == shared.id and version.id == shared.current_version_id
    for document_id, page in ((world.documents["normal"][0].id, 1), (shared.id, 4), (shared.id, 0)):
        with pytest.raises(NotFound):
            share_links.shared_page(session, link, document_id, page)


def test_an_opening_serves_pages_for_an_hour_and_only_with_its_key(session, world):
    link, token = _make(session, world)
    opened_at = utcnow()
    _, key = _open(session, token, now=opened_at)
    share_links.viewable(session, link, key, now=opened_at + timedelta(minutes=59))
    with pytest.raises(share_links.LinkRefused, match="重新打开"):
        share_links.viewable(session, link, key, now=opened_at + timedelta(minutes=61))
    with pytest.raises(share_links.LinkRefused, match="重新打开"):
        share_links.viewable(session, link, "guessed-key")


def test_the_watermark_names_the_recipient_the_address_and_the_time(session, world):
    link, _ = _make(session, world, recipient="平安保险 李理赔")
    lines = share_links.visible_lines(link, "示例医院", IP, datetime(2026, 3, 1, 2, 5, tzinfo=UTC))
    assert lines[0].startswith("仅供 平安保险 李理赔 查看") and "示例医院" in lines[0]
    assert lines[1] == f"2026-03-01 10:05  {IP}  分享链接 {link.id}"


@pytest.mark.parametrize(("change", "message"), [
    ({"recipient": " "}, "请填写接收人"),
    ({"max_views": 0}, "可打开次数应为 1 至 100"),
    ({"max_views": 101}, "可打开次数应为 1 至 100"),
    ({"days": -1}, "有效期应晚于现在"),
    ({"days": 91}, "有效期最长 90 天"),
    ({"categories": ["不存在的分类"]}, "病案分类不存在"),
])
def test_bad_input_is_refused_and_nothing_is_written(session, world, change, message):
    with pytest.raises(Refusal, match=message):
        _make(session, world, **change)
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(ShareLink)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(ShareLinkOpening)) == 0


def test_a_naive_expiry_is_the_hospitals_time(session, world):
    user = world.users["archivist"]
    tomorrow_nine = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0,
                                                                     tzinfo=None)
    form = share_links.ShareForm("张医生", tomorrow_nine, 1)
    link, _ = share_links.create_link(session, Actor.of(user), user, load_subject(session, user),
                                      world.records["normal"], form)
    session.commit()
    assert share_links.as_json(session, link)["expires_at"].endswith("T09:00:00+08:00")
