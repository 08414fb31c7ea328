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


SEALED_TITLE = "涉及已封存病案的消息"
SEALED_BODY = "该消息涉及的病案已封存，内容不再显示。"


def redact_sealed(session: Session, record_number: str, patient_name: str = "") -> None:
    """Messages naming a record that is being sealed lose their text and link, in the sealing
    transaction: a sealed record is named nowhere but in the seal managers' register (M3)."""
    words = [word for word in (record_number, patient_name) if word and len(word) >= 2]
    if not words:
        return
    named = sa.or_(*(column.contains(word) for word in words for column in (Message.title, Message.body)))
    with session.no_autoflush:  # called from an attribute event: the messages queued beside it count too
        messages = {*session.scalars(sa.select(Message).where(named)),
                    *(item for item in session.new if isinstance(item, Message))}
    for message in messages:
        if any(word in message.title or word in (message.body or "") for word in words):
            message.title, message.body, message.link = SEALED_TITLE, SEALED_BODY, ""


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
