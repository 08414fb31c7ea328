"""Telling people what happened: the ``Notifier`` port and its in-app adapter (站内消息).

WeCom, DingTalk or a webhook plug in as further adapters in ``NOTIFIERS``; each is called in the
transaction of the action it reports, so a rolled-back decision sends nothing in-app.
"""
from __future__ import annotations

from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.storage.models import Message, User, utcnow


class Notifier(Protocol):
    def notify(self, session: Session, user: User, kind: str, title: str, body: str, link: str) -> None: ...


class InAppNotifier:
    """A message in the user's inbox, read or unread."""

    def notify(self, session: Session, user: User, kind: str, title: str, body: str, link: str) -> None:
        session.add(Message(user_id=user.id, kind=kind, title=title[:200], body=body, link=link[:255]))


NOTIFIERS: list[Notifier] = [InAppNotifier()]


def notify(session: Session, user: User, kind: str, title: str, body: str = "", link: str = "") -> None:
    for notifier in NOTIFIERS:
        notifier.notify(session, user, kind, title, body, link)


def messages_of(session: Session, user: User, limit: int = 100) -> list[Message]:
    return list(session.scalars(
        sa.select(Message).where(Message.user_id == user.id).order_by(Message.id.desc()).limit(limit)))


def unread_count(session: Session, user: User) -> int:
    return session.scalar(
        sa.select(sa.func.count()).select_from(Message).where(Message.user_id == user.id, Message.read_at.is_(None)))


def mark_read(session: Session, user: User, message_id: int) -> None:
    """Only the user's own messages; someone else's id changes nothing."""
    session.execute(sa.update(Message).where(Message.id == message_id, Message.user_id == user.id,
                                             Message.read_at.is_(None)).values(read_at=utcnow()))
