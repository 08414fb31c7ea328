"""Signed embed links (嵌入链接, W1–W3): a doctor's or nurse's workstation or the medical-affairs
system opens a Bingan page for the signed-in member of staff inside an iframe.

The link is ``/embed?system=…&staff=…&target=…[&record=…&stay=…]&expires=…&nonce=…&sign=…`` where
``sign`` is the hex HMAC-SHA256, under the system's shared secret, of the other parameters sorted
by name and joined as ``name=value`` with ``&`` (values as sent, not url-encoded). A link lives at
most ten minutes and opens once: an expired or replayed link is refused. Only origins on the
system's allow-list may frame the pages it opens (Content-Security-Policy ``frame-ancestors``).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.access.policy import user_problem
from bingan.access.sealed_secrets import SecretBox
from bingan.access.sessions import token_id
from bingan.config import get_settings
from bingan.errors import NotFound, Refusal
from bingan.storage.models import Record, User, WebSession, utcnow
from bingan.storage.models.integration import EmbedNonce, EmbedSystem

MAX_LIFETIME = timedelta(minutes=10)
CLOCK_SKEW = timedelta(minutes=2)
# What a link may open: 病案详情, 归档质控 (its worklist, or one record's screen), 借阅, 召回, 封存, 病案查询.
TARGETS = {"record": "病案详情", "qc": "归档质控", "borrowing": "借阅", "recall": "召回", "sealing": "封存",
           "query": "病案查询"}
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$")
CODE = re.compile(r"^[A-Za-z0-9_\-]{2,32}$")


def signature(secret: str, params: dict[str, str]) -> str:
    message = "&".join(f"{name}={params[name]}" for name in sorted(params) if name != "sign")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _box() -> SecretBox:
    return SecretBox.of(get_settings())


def create_system(session: Session, actor: Actor, code: str, name: str, origins: list[str]) -> tuple[EmbedSystem, str]:
    """Register a system; its shared secret is returned this once."""
    code, name = code.strip(), name.strip()
    if not CODE.match(code):
        raise Refusal("系统代码须为2到32位字母、数字、下划线或连字符")
    if not name or len(name) > 100:
        raise Refusal("请填写系统名称（不超过100个字符）")
    if session.scalar(sa.select(EmbedSystem.id).where(EmbedSystem.code == code)):
        raise Refusal(f"系统代码 {code} 已存在")
    allowed = _origins(origins)
    secret = secrets.token_hex(32)
    system = EmbedSystem(code=code, name=name, secret=_box().seal(secret), origins=allowed)
    session.add(system)
    session.flush()
    record_event(session, actor, "embed_system.create", object_type="embed_system", object_id=system.id,
                 detail={"系统": name, "代码": code, "允许嵌入的来源": "、".join(allowed)})
    return system, secret


def _origins(origins: list[str]) -> list[str]:
    cleaned = [origin.strip().rstrip("/") for origin in origins if origin.strip()]
    wrong = [origin for origin in cleaned if not ORIGIN.match(origin)]
    if wrong:
        raise Refusal(f"来源须写成 https://主机[:端口]：{'、'.join(wrong)}")
    if not cleaned:
        raise Refusal("请至少填写一个允许嵌入的来源（如 https://emr.hospital.local）")
    return cleaned


def set_enabled(session: Session, actor: Actor, system_id: int, enabled: bool) -> EmbedSystem:
    system = session.get(EmbedSystem, system_id)
    if system is None:
        raise NotFound("集成系统不存在")
    system.enabled = enabled
    record_event(session, actor, "embed_system.enable" if enabled else "embed_system.disable",
                 object_type="embed_system", object_id=system.id, detail={"系统": system.name})
    return system


def systems(session: Session) -> list[EmbedSystem]:
    return list(session.scalars(sa.select(EmbedSystem).order_by(EmbedSystem.code)))


@dataclass
class Opened:
    system: EmbedSystem
    user: User
    path: str


class LinkRefused(Refusal):
    """Why the link was refused, with the system when it was known (its origins may frame the answer)."""

    status = 403

    def __init__(self, message: str, system: EmbedSystem | None = None) -> None:
        super().__init__(message)
        self.system = system


def open_link(session: Session, params: dict[str, str], client_ip: str, now: datetime | None = None) -> Opened:
    """Check a link and use up its nonce; the user it opens for and the page. Every refusal is audited."""
    now = now or utcnow()
    system = session.scalar(sa.select(EmbedSystem).where(EmbedSystem.code == params.get("system", "")))
    if system is None or not system.enabled:
        raise LinkRefused("嵌入链接无效：发起系统未登记或已停用")
    try:
        opened = _check(session, system, params, now)
    except LinkRefused as refusal:
        record_event(session, Actor(None, f"embed:{system.code}", client_ip), "embed_refused",
                     object_type="embed_system", object_id=system.id, result="denied",
                     detail={"系统": system.name, "工号": params.get("staff", "")[:32], "原因": str(refusal)})
        raise
    return opened


def _check(session: Session, system: EmbedSystem, params: dict[str, str], now: datetime) -> Opened:
    if not hmac.compare_digest(params.get("sign", ""), signature(_box().open(system.secret), params)):
        raise LinkRefused("嵌入链接签名不正确", system)
    expires = _expiry(params.get("expires", ""), system)
    if expires <= now:
        raise LinkRefused("嵌入链接已过期，请从原系统重新打开", system)
    if expires - now > MAX_LIFETIME + CLOCK_SKEW:
        raise LinkRefused("嵌入链接有效期过长（最长10分钟）", system)
    nonce = params.get("nonce", "")
    if not 8 <= len(nonce) <= 64:
        raise LinkRefused("嵌入链接缺少有效的随机串（nonce，8到64个字符）", system)
    used = session.scalar(sa.select(EmbedNonce.id).where(EmbedNonce.system_id == system.id, EmbedNonce.nonce == nonce))
    if used:
        raise LinkRefused("嵌入链接已使用过，不能重复打开（请从原系统重新打开）", system)
    session.execute(sa.delete(EmbedNonce).where(EmbedNonce.expires_at < now - CLOCK_SKEW))
    session.add(EmbedNonce(system_id=system.id, nonce=nonce, expires_at=expires))
    user = _staff(session, system, params.get("staff", ""))
    return Opened(system, user, _path(session, system, params))


def _expiry(value: str, system: EmbedSystem) -> datetime:
    if not value.isdigit():
        raise LinkRefused("嵌入链接缺少有效期（expires，Unix 秒）", system)
    return datetime.fromtimestamp(int(value), UTC)


def _staff(session: Session, system: EmbedSystem, staff_number: str) -> User:
    users = session.scalars(sa.select(User).where(User.staff_number == staff_number.strip())).all() if staff_number \
        else []
    if len(users) != 1:
        raise LinkRefused(f"工号 {staff_number[:32]} 在病案系统中没有唯一对应的用户", system)
    problem = user_problem(users[0])
    if problem:
        raise LinkRefused(problem, system)
    return users[0]


def _path(session: Session, system: EmbedSystem, params: dict[str, str]) -> str:
    target = params.get("target", "")
    if target not in TARGETS:
        raise LinkRefused(f"嵌入链接的目标页面无效：{target[:32]}", system)
    if target in {"record", "qc"} and params.get("record"):
        record = _record(session, system, params["record"], params.get("stay", "1"))
        return f"/records/{record.id}" if target == "record" else f"/qc/{record.id}"
    if target == "record":
        raise LinkRefused("打开病案详情须给出病案号（record）", system)
    return {"qc": "/qc", "borrowing": "/borrowing", "recall": "/recall", "sealing": "/sealing",
            "query": "/search"}[target]


def _record(session: Session, system: EmbedSystem, number: str, stay: str) -> Record:
    record = session.scalar(sa.select(Record).where(Record.record_number == number.strip(),
                                                    Record.stay_number == (int(stay) if stay.isdigit() else -1)))
    if record is None:
        raise LinkRefused("未找到该病案（病案号与住院次数）", system)
    return record


def open_session(session: Session, opened: Opened, client_ip: str, user_agent: str) -> str:
    """A session for the member of staff the hospital system vouches for (it signed them in, the
    signed link stands for the password and the second factor); the cookie token."""
    token = secrets.token_urlsafe(32)
    session.add(WebSession(id=token_id(token), user_id=opened.user.id, csrf_token=secrets.token_urlsafe(24),
                           client_ip=client_ip[:64], user_agent=user_agent[:255], second_factor_done=True))
    record_event(session, Actor.of(opened.user, client_ip), "login", object_type="session",
                 detail={"方式": "嵌入链接", "系统": opened.system.name, "页面": opened.path})
    return token


def frame_token(key: bytes, origins: list[str]) -> str:
    """The value of the embed cookie: the origins allowed to frame this browser's pages, signed
    with the application's secret so that no one can widen them."""
    value = " ".join(origins)
    return value.replace(" ", "|") + "." + hmac.new(key, b"embed:" + value.encode(), hashlib.sha256).hexdigest()


def framing_origins(key: bytes, cookie: str) -> list[str]:
    value, _, mac = cookie.rpartition(".")
    origins = value.split("|") if value else []
    expected = hmac.new(key, b"embed:" + " ".join(origins).encode(), hashlib.sha256).hexdigest()
    if not mac or not hmac.compare_digest(mac, expected) or not all(ORIGIN.match(o) for o in origins):
        return []
    return origins
