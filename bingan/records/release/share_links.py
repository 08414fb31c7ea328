"""Limited share links (限时分享链接, F3, S14): chosen documents of one record shown to a named
recipient in the watermarked viewer, until a date and for a number of openings, revocable.

The link is ``/s/<token>``: the token is random (``secrets``), only its SHA-256 is stored, like a
session's (``access.sessions.token_id``). Each opening is counted (atomically: two browsers
cannot both take the last view), kept with its address and browser, and audited; its page
images are served against a second random key (a cookie of that opening) for OPENING_MINUTES,
and only pages of the documents the link names (the versions pinned when it was made). Every
page carries "仅供 <接收人> 查看" and the address and time; the invisible mark names the
member of staff who made the link. A sealed record gets no link and its links stop working.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.access.policy import Subject, decide_for
from bingan.access.sessions import token_id
from bingan.errors import Conflict, NotFound, Refusal
from bingan.records.notices.service import site_url
from bingan.records.release import rules
from bingan.storage.models import Category, Document, DocumentType, Record, User, Version, utcnow
from bingan.storage.models.release import ShareLink, ShareLinkOpening

PATH = "/s/"
MAX_DAYS = 90
MAX_VIEWS = 100
OPENING_MINUTES = 60  # how long the page images of one opening may be fetched
MAX_TOKEN = 100
STATUS_NAMES = {"active": "有效", "used_up": "次数已用完", "expired": "已过期", "revoked": "已撤销",
                "sealed": "病案已封存"}


@dataclass(frozen=True)
class ShareForm:
    """What the member of staff asks for: ``categories`` codes or names, None or [] = every
    category they may export; ``expires_at`` naive = the hospital's time."""

    recipient: str
    expires_at: datetime
    max_views: int
    categories: list[str] | None = None
    purpose: str = ""


class LinkRefused(Refusal):
    """The link cannot be opened (revoked, expired, used up, sealed): 410, the reason in Chinese."""

    status = 410


# --- making and revoking -------------------------------------------------------------------------

def create_link(session: Session, actor: Actor, user: User, subject: Subject, record: Record,
                form: ShareForm, now: datetime | None = None) -> tuple[ShareLink, str]:
    """The link and its token (shown this once). The gate (export, the record within the user's
    scope) is the web layer's; here: the record's state, the form, and per document the
    category rules (only documents the user may export are shared)."""
    now = now or utcnow()
    if record.sealed:
        raise Refusal("病案已封存，不能创建分享链接")
    recipient = (form.recipient or "").strip()
    if not recipient or len(recipient) > 50:
        raise Refusal("请填写接收人（姓名或单位，不超过50字）")
    purpose = (form.purpose or "").strip()
    if len(purpose) > 100:
        raise Refusal("分享用途不能超过 100 字")
    if isinstance(form.max_views, bool) or not 1 <= form.max_views <= MAX_VIEWS:
        raise Refusal(f"可打开次数应为 1 至 {MAX_VIEWS}")
    expires = _expiry(form.expires_at, now)
    codes = rules.resolve_categories(session, form.categories) if form.categories else []
    items = _items(session, subject, record, codes)
    token = secrets.token_urlsafe(32)
    link = ShareLink(token_hash=token_id(token), record_id=record.id, recipient=recipient, purpose=purpose,
                     categories=codes, items=items, expires_at=expires, max_views=form.max_views,
                     created_by_id=user.id)
    session.add(link)
    session.flush()
    record_event(session, actor, "share_link.create", object_type="share_link", object_id=link.id,
                 record_id=record.id, detail={"接收人": recipient, "有效期至": _local(expires),
                                              "可打开次数": form.max_views, "文书数": len(items),
                                              "分类": "、".join(sorted({i["category_name"] for i in items}))})
    return link, token


def _expiry(given: datetime, now: datetime) -> datetime:
    """Stored as UTC, like every time (SQLite keeps no offset)."""
    expires = (given if given.tzinfo else given.replace(tzinfo=clock.zone())).astimezone(UTC)
    if expires <= now:
        raise Refusal("有效期应晚于现在")
    if expires - now > timedelta(days=MAX_DAYS):
        raise Refusal(f"有效期最长 {MAX_DAYS} 天")
    return expires


def _items(session: Session, subject: Subject, record: Record, codes: list[str]) -> list[dict]:
    """The documents shared, each at its current version, in filing order; videos are not paged
    and stay out (a patient's video copy goes through the copy window)."""
    query = (sa.select(Document, Version, Category)
             .join(Version, Version.id == Document.current_version_id)
             .join(DocumentType, DocumentType.id == Document.document_type_id)
             .join(Category, Category.id == DocumentType.category_id)
             .where(Document.record_id == record.id, Document.removed.is_(False))
             .order_by(Category.filing_order, DocumentType.filing_order, Document.id))
    if codes:
        query = query.where(Category.code.in_(codes))
    items = [{"document_id": document.id, "version_id": version.id, "version": version.number,
              "title": document.title, "category": category.code, "category_name": category.name,
              "pages": max(version.page_count, 1)}
             for document, version, category in session.execute(query)
             if not version.media_type.startswith("video/") and decide_for(subject, "export", record,
                                                                           document=document)]
    if not items:
        raise Refusal("所选范围内没有您可以分享的文书")
    return items


def revoke(session: Session, actor: Actor, user: User, link: ShareLink) -> ShareLink:
    """撤销: the link stops at once, also for an opening under way."""
    if link.revoked_at is not None:
        raise Conflict("该分享链接已撤销")
    link.revoked_at, link.revoked_by_id = utcnow(), user.id
    record_event(session, actor, "share_link.revoke", object_type="share_link", object_id=link.id,
                 record_id=link.record_id, detail={"接收人": link.recipient, "已打开次数": link.views})
    return link


def address(session: Session, token: str, here: str) -> str:
    """The address the recipient opens: the site address the hospital set (系统设置 · 消息通知),
    else ``here`` (the address the member of staff reached Bingan by)."""
    return (site_url(session) or here).rstrip("/") + PATH + token


def get_link(session: Session, link_id: int) -> ShareLink:
    found = session.get(ShareLink, link_id)
    if found is None:
        raise NotFound("分享链接不存在")
    return found


def links_of(session: Session, record_id: int) -> list[ShareLink]:
    return list(session.scalars(sa.select(ShareLink).where(ShareLink.record_id == record_id)
                                .order_by(ShareLink.id.desc())))


def openings_of(session: Session, link: ShareLink) -> list[ShareLinkOpening]:
    return list(session.scalars(sa.select(ShareLinkOpening).where(ShareLinkOpening.link_id == link.id)
                                .order_by(ShareLinkOpening.id)))


def status_of(link: ShareLink, record: Record, now: datetime | None = None) -> str:
    """One of STATUS_NAMES: why the link works or no longer does."""
    stopped = _stopped(link, record, now or utcnow())
    if stopped:
        return stopped
    return "used_up" if link.views >= link.max_views else "active"


def _stopped(link: ShareLink, record: Record, now: datetime) -> str:
    """What stops a link for every purpose, an opening under way included."""
    if link.revoked_at is not None:
        return "revoked"
    if record.sealed:
        return "sealed"
    if clock.instant(link.expires_at) <= now:
        return "expired"
    return ""


def refusal_message(link: ShareLink, status: str) -> str:
    return {"revoked": "该分享链接已被撤销，无法查看",
            "sealed": "该病案已封存，分享链接已停止使用",
            "expired": f"该分享链接已于 {_local(link.expires_at)} 过期，无法查看",
            "used_up": f"该分享链接可打开 {link.max_views} 次，次数已用完，无法查看"}[status]


# --- opening and reading -------------------------------------------------------------------------

def find_link(session: Session, token: str) -> ShareLink | None:
    if not token or len(token) > MAX_TOKEN:
        return None
    return session.scalar(sa.select(ShareLink).where(ShareLink.token_hash == token_id(token)))


def open_link(session: Session, token: str, client_ip: str, user_agent: str,
              now: datetime | None = None) -> tuple[ShareLink, str]:
    """A new opening: counted, kept and audited; the opening's key for its page images. A refused
    opening is audited too (the caller commits before answering)."""
    now = now or utcnow()
    link = find_link(session, token)
    if link is None:
        raise NotFound("分享链接无效，请向发送链接的医院核实")
    actor = _visitor(link, client_ip)
    status = status_of(link, session.get(Record, link.record_id), now)
    if status == "active" and not _count(session, link):
        status = "used_up"  # another browser took the last view meanwhile
    if status != "active":
        record_event(session, actor, "share_link.refused", object_type="share_link", object_id=link.id,
                     record_id=link.record_id, result="denied",
                     detail={"接收人": link.recipient, "原因": STATUS_NAMES[status]})
        raise LinkRefused(refusal_message(link, status))
    key = secrets.token_urlsafe(32)
    session.add(ShareLinkOpening(link_id=link.id, key_hash=token_id(key), client_ip=client_ip[:64],
                                 user_agent=user_agent[:255], opened_at=now))
    record_event(session, actor, "share_link.open", object_type="share_link", object_id=link.id,
                 record_id=link.record_id, detail={"接收人": link.recipient, "第几次": link.views,
                                                   "可打开次数": link.max_views, "浏览器": user_agent[:120]})
    return link, key


def _count(session: Session, link: ShareLink) -> bool:
    """One more view, only while views remain (one statement: no lost update)."""
    counted = session.execute(sa.update(ShareLink).where(ShareLink.id == link.id,
                                                         ShareLink.views < ShareLink.max_views)
                              .values(views=ShareLink.views + 1)
                              .execution_options(synchronize_session=False)).rowcount
    session.refresh(link)
    return counted == 1


def _visitor(link: ShareLink, client_ip: str) -> Actor:
    return Actor(None, f"share:{link.id}", client_ip)


def current_opening(session: Session, link: ShareLink, key: str, now: datetime | None = None) -> bool:
    """Whether ``key`` is an opening of this link still under way (a reload is not a new view)."""
    if not key or len(key) > MAX_TOKEN:
        return False
    since = (now or utcnow()) - timedelta(minutes=OPENING_MINUTES)
    return session.scalar(sa.select(ShareLinkOpening.id).where(
        ShareLinkOpening.key_hash == token_id(key), ShareLinkOpening.link_id == link.id,
        ShareLinkOpening.opened_at > since)) is not None


def viewable(session: Session, link: ShareLink, key: str, now: datetime | None = None) -> None:
    """Refuses unless the link still works and ``key`` is one of its openings under way."""
    now = now or utcnow()
    stopped = _stopped(link, session.get(Record, link.record_id), now)
    if stopped:
        raise LinkRefused(refusal_message(link, stopped))
    if not current_opening(session, link, key, now):
        raise LinkRefused("本次查看已结束，请重新打开分享链接")


def shared_page(session: Session, link: ShareLink, document_id: int, page: int) -> tuple[dict, Version]:
    """A page within the link's scope, or 404 (other documents, other pages: as if absent)."""
    item = next((item for item in link.items if item["document_id"] == document_id), None)
    document = session.get(Document, document_id) if item else None
    if item is None or document is None or document.removed or not 1 <= page <= item["pages"]:
        raise NotFound("页面不存在")
    return item, session.get(Version, item["version_id"])


def note_page(session: Session, link: ShareLink, client_ip: str, document_id: int, page: int, version: int) -> None:
    record_event(session, _visitor(link, client_ip), "share_link.page", object_type="share_link",
                 object_id=link.id, record_id=link.record_id, document_id=document_id, page=page,
                 detail={"接收人": link.recipient, "版本": version})


def visible_lines(link: ShareLink, hospital: str, client_ip: str, when: datetime) -> tuple[str, ...]:
    """The visible watermark: the recipient, the hospital, when and from where."""
    return (f"仅供 {link.recipient} 查看  请勿转发  {hospital}".strip(),
            f"{_local(when)}  {client_ip}  分享链接 {link.id}")


def live_documents(session: Session, link: ShareLink) -> list[dict]:
    """The link's documents still in the record (a withdrawn one is no longer shown)."""
    ids = [item["document_id"] for item in link.items]
    live = set(session.scalars(sa.select(Document.id).where(Document.id.in_(ids), Document.removed.is_(False))))
    return [item for item in link.items if item["document_id"] in live]


# --- as the API shows it -------------------------------------------------------------------------

def as_json(session: Session, link: ShareLink, *, url: str | None = None, with_openings: bool = False) -> dict:
    record = session.get(Record, link.record_id)
    status = status_of(link, record)
    answer = {
        "id": link.id, "record_id": link.record_id, "recipient": link.recipient, "purpose": link.purpose,
        "categories": link.categories, "status": status, "status_name": STATUS_NAMES[status],
        "expires_at": clock.iso(link.expires_at), "max_views": link.max_views, "views": link.views,
        "remaining_views": max(link.max_views - link.views, 0),
        "documents": [{key: item[key] for key in ("document_id", "title", "category_name", "version", "pages")}
                      for item in link.items],
        "created_by": link.created_by.full_name or link.created_by.username,
        "created_at": clock.iso(link.created_at), "revoked_at": clock.iso(link.revoked_at),
    }
    if url is not None:
        answer["url"] = url
    if with_openings:
        answer["openings"] = [{"at": clock.iso(o.opened_at), "client_ip": o.client_ip, "user_agent": o.user_agent}
                              for o in openings_of(session, link)]
    return answer


def _local(moment: datetime) -> str:
    return f"{clock.local(moment):%Y-%m-%d %H:%M}"
