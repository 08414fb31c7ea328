"""Notices outside Bingan: the outbox notifier, delivery with retries and backoff, the channel
settings, users' bindings and the delivery log.

``OutboxNotifier`` sits in ``NOTIFIERS`` beside the in-app message: it writes one delivery row
per enabled channel in the transaction of the event (a rolled-back action sends nothing, a
request never waits for WeCom) and kicks the worker once that transaction commits. The worker
task and the timed sweep both call ``deliver``; a row is claimed before it is sent, so two of
them never send it twice at the same moment.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.access.sealed_secrets import SecretBox
from bingan.broker import send_after_commit
from bingan.clock import iso
from bingan.config import get_settings
from bingan.errors import NotFound, Refusal
from bingan.records.notices.channels import BINDINGS, CHANNELS, DeliveryError, Outgoing, Sender
from bingan.storage.models import SystemSetting, User, utcnow
from bingan.storage.models.notices import NoticeAttempt, NoticeBinding, NoticeChannel, NoticeDelivery

TASK = "bingan.notices.deliver"
MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=30)  # then 1, 2, 4, 8 minutes: about a quarter of an hour in all
LAST_RETRY = timedelta(hours=1)
CLAIM = timedelta(minutes=2)  # a delivery being sent is not taken by another worker meanwhile
SWEEP_BATCH = 200
SITE_KEY = "notices"  # SystemSetting: {"site_url": "https://bingan.hospital"} makes links absolute
STATUS_NAMES = {"pending": "待发送", "sent": "已发送", "failed": "发送失败"}


class OutboxNotifier:
    """The ``Notifier`` port for every external channel: a delivery row now, the sending later."""

    def notify(self, session: Session, user: User, kind: str, title: str, body: str, link: str) -> None:
        channels = session.scalars(sa.select(NoticeChannel).where(NoticeChannel.enabled)).all()
        for channel in channels:
            if not _carries(channel, kind) or not _reaches(session, channel, user):
                continue
            delivery = NoticeDelivery(channel=channel.code, user_id=user.id, kind=kind[:32], title=title[:200],
                                      body=body, link=link[:255])
            session.add(delivery)
            session.flush()
            send_after_commit(session, TASK, [delivery.id])


def _carries(channel: NoticeChannel, kind: str) -> bool:
    kinds = (channel.settings or {}).get("kinds") or []
    return not kinds or kind in kinds


def _reaches(session: Session, channel: NoticeChannel, user: User) -> bool:
    binding = CHANNELS[channel.code].binding
    return not binding or bound_id(session, user, binding) != ""


# ---- delivery ---------------------------------------------------------------------------------

def deliver(session: Session, delivery_id: int, now: datetime | None = None) -> str:
    """Send one due delivery if it can be claimed; its state afterwards ("sent", "pending", "failed"),
    or "not due" when it is not waiting (sent already, being sent, or its retry not yet due)."""
    now = now or utcnow()
    claimed = session.execute(
        sa.update(NoticeDelivery)
        .where(NoticeDelivery.id == delivery_id, NoticeDelivery.status == "pending",
               NoticeDelivery.next_attempt_at <= now)
        .values(next_attempt_at=now + CLAIM)
        .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        return "not due"
    delivery = session.get(NoticeDelivery, delivery_id, populate_existing=True)
    channel = session.get(NoticeChannel, delivery.channel)
    try:
        _send(session, channel, delivery, now)
    except DeliveryError as error:
        _failed(delivery, error, now)
    else:
        delivery.status, delivery.sent_at, delivery.error_code, delivery.error = "sent", now, "", ""
        delivery.tries.append(NoticeAttempt(at=now, ok=True))
    delivery.attempts += 1
    return delivery.status


def _send(session: Session, channel: NoticeChannel | None, delivery: NoticeDelivery, now: datetime) -> None:
    if channel is None or not channel.enabled:
        raise DeliveryError("disabled", "该通知渠道已停用")
    kind = CHANNELS[channel.code]
    user = delivery.user
    to = bound_id(session, user, kind.binding) if kind.binding and user else ""
    if kind.binding and not to:
        raise DeliveryError("unbound", f"收件人未绑定{BINDINGS[kind.binding]}")
    notice = Outgoing(kind=delivery.kind, title=delivery.title, body=delivery.body,
                      url=_absolute(session, delivery.link), to=to, recipient=_recipient(user))
    secret = SecretBox.of(get_settings()).open(channel.secret)
    kind.send(Sender(channel, secret, http_client(), now), notice)


def http_client() -> httpx.Client:
    """One HTTP client per process: a new one loads the CA bundle into an SSL context, 250–550 ms on
    the loaded test machine (bench/notices.py), which was most of a notice's delivery time. Keyed by
    process id, so a forked worker never shares its parent's connections."""
    return _http_client(os.getpid())


@lru_cache(maxsize=1)
def _http_client(_pid: int) -> httpx.Client:
    return httpx.Client()


def _failed(delivery: NoticeDelivery, error: DeliveryError, now: datetime) -> None:
    """Retry with doubling waits; give up after MAX_ATTEMPTS, or at once when no retry can help."""
    delivery.error_code, delivery.error = error.code[:32], error.message[:500]
    delivery.tries.append(NoticeAttempt(at=now, ok=False, error_code=error.code[:32], error=error.message[:500]))
    final = error.code in {"disabled", "unbound"} or delivery.attempts + 1 >= MAX_ATTEMPTS
    if final:
        delivery.status = "failed"
        return
    delivery.next_attempt_at = now + min(FIRST_RETRY * 2 ** delivery.attempts, LAST_RETRY)


def _recipient(user: User | None) -> dict:
    if user is None:
        return {}
    return {"username": user.username, "name": user.full_name, "staff_number": user.staff_number}


def _absolute(session: Session, link: str) -> str:
    if not link:
        return ""
    setting = session.get(SystemSetting, SITE_KEY)
    site = ((setting.value if setting else {}) or {}).get("site_url", "").rstrip("/")
    return f"{site}{link}" if site and link.startswith("/") else link


def due_deliveries(session: Session, now: datetime, limit: int = SWEEP_BATCH) -> list[int]:
    return list(session.scalars(
        sa.select(NoticeDelivery.id).where(NoticeDelivery.status == "pending", NoticeDelivery.next_attempt_at <= now)
        .order_by(NoticeDelivery.next_attempt_at, NoticeDelivery.id).limit(limit)))


# ---- settings and bindings ----------------------------------------------------------------------

@dataclass
class ChannelView:
    code: str
    name: str
    enabled: bool
    settings: dict
    has_secret: bool
    fields: tuple[tuple[str, str], ...]
    secret_label: str
    personal: bool


def channels(session: Session) -> list[ChannelView]:
    """Every channel kind, set up or not; secrets never leave the database, only whether one is set."""
    saved = {channel.code: channel for channel in session.scalars(sa.select(NoticeChannel))}
    views = []
    for code, kind in CHANNELS.items():
        channel = saved.get(code)
        views.append(ChannelView(code, kind.name, bool(channel and channel.enabled),
                                 dict(channel.settings) if channel else {}, bool(channel and channel.secret),
                                 kind.fields, kind.secret_label, bool(kind.binding)))
    return views


def save_channel(session: Session, actor: Actor, code: str, *, enabled: bool, values: dict[str, str],
                 kinds: list[str], secret: str = "") -> NoticeChannel:
    """Save one channel; an empty ``secret`` keeps the one stored. Enabling needs every field it uses."""
    kind = CHANNELS.get(code)
    if kind is None:
        raise NotFound("没有这个通知渠道")
    settings = {key: (values.get(key) or "").strip()[:500] for key, _label in kind.fields}
    settings["kinds"] = [k for k in kinds if k]
    _check_settings(kind.code, settings)
    channel = session.get(NoticeChannel, code) or NoticeChannel(code=code)
    session.add(channel)
    if secret.strip():
        channel.secret = SecretBox.of(get_settings()).seal(secret.strip())
        channel.access_token, channel.token_expires_at = "", None
    if enabled:
        missing = [label for key, label in kind.fields if key != "base_url" and not settings.get(key)]
        if kind.secret_label and not channel.secret and code != "dingtalk_robot":
            missing.append(kind.secret_label)
        if missing:
            raise Refusal(f"启用{kind.name}前请填写：{'、'.join(missing)}")
    channel.enabled, channel.settings = enabled, settings
    record_event(session, actor, "settings", object_type="notice_channel", object_id=code,
                 detail={"渠道": kind.name, "启用": "是" if enabled else "否",
                         **({"密钥": "已更换"} if secret.strip() else {})})
    return channel


def _check_settings(code: str, settings: dict) -> None:
    for key in ("webhook_url", "url", "base_url"):
        value = settings.get(key, "")
        if value and not value.startswith(("http://", "https://")):
            raise Refusal("地址须以 http:// 或 https:// 开头")
    agent = settings.get("agent_id", "")
    if agent and not agent.isdigit():
        raise Refusal("应用AgentId须为数字")


def bound_id(session: Session, user: User | None, channel: str) -> str:
    if user is None:
        return ""
    found = session.scalar(sa.select(NoticeBinding.external_id).where(
        NoticeBinding.user_id == user.id, NoticeBinding.channel == channel))
    return found or ""


def bindings_of(session: Session, user: User) -> dict[str, str]:
    return {channel: bound_id(session, user, channel) for channel in BINDINGS}


def bind(session: Session, actor: Actor, user: User, channel: str, external_id: str) -> None:
    """Bind (or, with an empty id, unbind) the user's own WeCom or DingTalk account."""
    if channel not in BINDINGS:
        raise Refusal("没有这种账号绑定")
    external_id = external_id.strip()
    if len(external_id) > 64 or any(ch.isspace() for ch in external_id):
        raise Refusal(f"{BINDINGS[channel]}不能含空格，且不超过64个字符")
    found = session.scalar(sa.select(NoticeBinding).where(NoticeBinding.user_id == user.id,
                                                          NoticeBinding.channel == channel))
    if found is not None and not external_id:
        session.delete(found)
    elif found is not None:
        found.external_id = external_id
    elif external_id:
        session.add(NoticeBinding(user_id=user.id, channel=channel, external_id=external_id))
    record_event(session, actor, "settings", object_type="notice_binding", object_id=user.id,
                 detail={"绑定": BINDINGS[channel], "账号": external_id or "（已解除）"})


def save_site_url(session: Session, actor: Actor, site_url: str) -> None:
    site_url = site_url.strip().rstrip("/")
    if site_url and not site_url.startswith(("http://", "https://")):
        raise Refusal("系统访问地址须以 http:// 或 https:// 开头")
    setting = session.get(SystemSetting, SITE_KEY) or SystemSetting(key=SITE_KEY, value={})
    setting.value = {**(setting.value or {}), "site_url": site_url[:200]}
    session.add(setting)
    record_event(session, actor, "settings", object_type="notices", detail={"系统访问地址": site_url})


def site_url(session: Session) -> str:
    setting = session.get(SystemSetting, SITE_KEY)
    return ((setting.value if setting else {}) or {}).get("site_url", "")


# ---- the delivery log ---------------------------------------------------------------------------

def delivery_log(session: Session, *, status: str = "", channel: str = "", limit: int = 100,
                 offset: int = 0) -> tuple[list[NoticeDelivery], int]:
    query = sa.select(NoticeDelivery)
    if status:
        query = query.where(NoticeDelivery.status == status)
    if channel:
        query = query.where(NoticeDelivery.channel == channel)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(NoticeDelivery.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total or 0


def retry_now(session: Session, actor: Actor, delivery_id: int) -> NoticeDelivery:
    """Send a failed (or waiting) delivery again at once, with a fresh round of retries."""
    delivery = session.get(NoticeDelivery, delivery_id)
    if delivery is None:
        raise NotFound("没有这条通知")
    if delivery.status == "sent":
        raise Refusal("这条通知已发送成功，无需重发")
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, utcnow()
    record_event(session, actor, "settings", object_type="notice_delivery", object_id=delivery.id,
                 detail={"操作": "重新发送", "渠道": CHANNELS[delivery.channel].name})
    send_after_commit(session, TASK, [delivery.id])
    return delivery


def delivery_json(delivery: NoticeDelivery) -> dict:
    return {
        "id": delivery.id, "channel": delivery.channel, "channel_name": CHANNELS[delivery.channel].name,
        "kind": delivery.kind, "title": delivery.title, "status": delivery.status,
        "status_name": STATUS_NAMES[delivery.status], "attempts": delivery.attempts,
        "recipient": delivery.user.username if delivery.user else "",
        "created_at": iso(delivery.created_at), "sent_at": iso(delivery.sent_at),
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "error_code": delivery.error_code, "error": delivery.error,
        "tries": [{"at": iso(t.at), "ok": t.ok, "error_code": t.error_code, "error": t.error}
                  for t in delivery.tries],
    }
