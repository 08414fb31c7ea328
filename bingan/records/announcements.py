"""Announcements (公告) the system administrator publishes to every user or to some roles."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.administration import AdminError
from bingan.access.audit import Actor, record_event
from bingan.storage.models import Announcement, Role, utcnow

TITLE_LENGTH = 200
BODY_LENGTH = 5000
MAX_DAYS = 3650


def all_announcements(session: Session) -> list[Announcement]:
    return list(session.scalars(sa.select(Announcement).order_by(Announcement.published_at.desc())))


def publish(session: Session, actor: Actor, title: str, body: str, days: int, role_codes: list[str]) -> Announcement:
    """Shown for ``days`` (0: until deleted) to the roles named, or to everyone when none is."""
    title = title.strip()
    if not title or len(title) > TITLE_LENGTH:
        raise AdminError(f"公告标题不能为空，且不超过{TITLE_LENGTH}个字")
    if not 0 <= days <= MAX_DAYS:
        raise AdminError(f"有效天数应在0–{MAX_DAYS}之间（0为长期）")
    known = set(session.scalars(sa.select(Role.code).where(Role.code.in_(role_codes))))
    if set(role_codes) - known:
        raise AdminError(f"未知角色：{'、'.join(sorted(set(role_codes) - known))}")
    announcement = Announcement(title=title, body=body[:BODY_LENGTH], roles=role_codes, author_id=actor.user_id,
                                expires_at=utcnow() + timedelta(days=days) if days else None)
    session.add(announcement)
    session.flush()
    record_event(session, actor, "announcement", object_type="announcement", object_id=announcement.id,
                 detail={"标题": title})
    return announcement


def withdraw(session: Session, actor: Actor, announcement_id: int) -> None:
    announcement = session.get(Announcement, announcement_id)
    if announcement is None:
        raise AdminError("公告不存在")
    record_event(session, actor, "announcement", object_type="announcement", object_id=announcement.id,
                 detail={"操作": "删除", "标题": announcement.title})
    session.delete(announcement)
