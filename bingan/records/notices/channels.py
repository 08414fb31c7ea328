"""The adapters: how one notice reaches WeCom (企业微信), DingTalk (钉钉) or a webhook, by their
documented APIs. Each raises ``DeliveryError`` with the peer's error code; the caller retries.

- WeCom application message: ``GET /cgi-bin/gettoken?corpid&corpsecret``, then
  ``POST /cgi-bin/message/send?access_token`` with ``touser`` and ``agentid``. The token is cached
  until it expires and fetched again when WeCom answers 40014 (invalid) or 42001 (expired).
- WeCom group robot: ``POST`` the robot's webhook address (its ``key`` is in the address).
- DingTalk work notice: ``GET /gettoken?appkey&appsecret``, then
  ``POST /topapi/message/corpconversation/asyncsend_v2?access_token`` with ``agent_id`` and
  ``userid_list``; the same token handling.
- DingTalk robot: the webhook address with ``timestamp`` (ms) and
  ``sign = urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")))``.
- Webhook (message platform): the JSON notice, ``X-Bingan-Timestamp`` (seconds) and
  ``X-Bingan-Signature: sha256=hex(HMAC-SHA256(secret, f"{timestamp}.{body}"))``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote_plus

import httpx

from bingan.access.policy import aware
from bingan.access.sealed_secrets import SecretBox
from bingan.config import get_settings
from bingan.storage.models.notices import NoticeChannel

WECOM_API = "https://qyapi.weixin.qq.com"
DINGTALK_API = "https://oapi.dingtalk.com"
TOKEN_REFUSED = {40014, 42001}  # access_token invalid / expired: fetch a new one and send again
TOKEN_MARGIN = timedelta(minutes=5)  # a token is renewed this long before WeCom or DingTalk drop it
TIMEOUT = 10.0


class DeliveryError(Exception):
    """The peer refused or could not be reached; ``code`` is its errcode, HTTP status or "network"."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Outgoing:
    """One notice as the adapters send it; ``to`` is the user's WeCom or DingTalk id."""

    kind: str
    title: str
    body: str
    url: str
    to: str
    recipient: dict

    def text(self) -> str:
        lines = [f"【病案系统】{self.title}", self.body, self.url]
        return "\n".join(line for line in lines if line)


@dataclass
class Sender:
    """The channel row (its token cache is updated in place), its opened secret and the HTTP client."""

    channel: NoticeChannel
    secret: str
    client: httpx.Client
    now: datetime

    @property
    def settings(self) -> dict:
        return self.channel.settings or {}

    def post(self, url: str, **kwargs: object) -> httpx.Response:
        try:
            return self.client.post(url, timeout=TIMEOUT, **kwargs)
        except httpx.HTTPError as exc:
            raise DeliveryError("network", f"无法连接：{exc.__class__.__name__}") from exc

    def get(self, url: str, params: dict) -> httpx.Response:
        try:
            return self.client.get(url, params=params, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            raise DeliveryError("network", f"无法连接：{exc.__class__.__name__}") from exc


def _answer(response: httpx.Response) -> dict:
    """WeCom and DingTalk answer 200 with ``errcode``; anything else is an HTTP error."""
    if response.status_code >= 400:
        raise DeliveryError(str(response.status_code), f"HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError as exc:
        raise DeliveryError(str(response.status_code), "应答不是 JSON") from exc
    if data.get("errcode", 0) != 0:
        raise DeliveryError(str(data.get("errcode")), str(data.get("errmsg", ""))[:400])
    return data


def _token(sender: Sender, fetch: Callable[[Sender], dict]) -> str:
    channel, box = sender.channel, _box()
    expires = channel.token_expires_at
    if channel.access_token and expires is not None and aware(expires) - TOKEN_MARGIN > sender.now:
        return box.open(channel.access_token)
    data = fetch(sender)
    channel.access_token = box.seal(data["access_token"])
    channel.token_expires_at = sender.now + timedelta(seconds=int(data.get("expires_in", 7200)))
    return data["access_token"]


def _with_token(sender: Sender, fetch: Callable[[Sender], dict], send: Callable[[str], dict]) -> dict:
    try:
        return send(_token(sender, fetch))
    except DeliveryError as error:
        if not error.code.isdigit() or int(error.code) not in TOKEN_REFUSED:
            raise
    sender.channel.access_token, sender.channel.token_expires_at = "", None
    return send(_token(sender, fetch))


def _wecom_token(sender: Sender) -> dict:
    base = sender.settings.get("base_url") or WECOM_API
    return _answer(sender.get(f"{base}/cgi-bin/gettoken",
                              {"corpid": sender.settings.get("corp_id", ""), "corpsecret": sender.secret}))


def send_wecom(sender: Sender, notice: Outgoing) -> None:
    base = sender.settings.get("base_url") or WECOM_API
    message: dict = {"touser": notice.to, "agentid": int(sender.settings.get("agent_id") or 0)}
    if notice.url:
        message |= {"msgtype": "textcard", "textcard": {
            "title": notice.title[:128], "description": notice.body[:512] or notice.title[:512],
            "url": notice.url, "btntxt": "查看"}}
    else:
        message |= {"msgtype": "text", "text": {"content": notice.text()}}

    def send(token: str) -> dict:
        data = _answer(sender.post(f"{base}/cgi-bin/message/send", params={"access_token": token}, json=message))
        if data.get("invaliduser"):
            raise DeliveryError("invaliduser", f"企业微信无此成员：{data['invaliduser']}")
        return data
    _with_token(sender, _wecom_token, send)


def send_wecom_robot(sender: Sender, notice: Outgoing) -> None:
    _answer(sender.post(sender.settings.get("webhook_url", ""),
                        json={"msgtype": "text", "text": {"content": _to_group(notice)}}))


def _dingtalk_token(sender: Sender) -> dict:
    base = sender.settings.get("base_url") or DINGTALK_API
    return _answer(sender.get(f"{base}/gettoken",
                              {"appkey": sender.settings.get("app_key", ""), "appsecret": sender.secret}))


def send_dingtalk(sender: Sender, notice: Outgoing) -> None:
    base = sender.settings.get("base_url") or DINGTALK_API
    if notice.url:
        msg = {"msgtype": "action_card", "action_card": {
            "title": notice.title[:64], "markdown": f"### {notice.title}\n\n{notice.body}",
            "single_title": "查看", "single_url": notice.url}}
    else:
        msg = {"msgtype": "text", "text": {"content": notice.text()}}
    message = {"agent_id": int(sender.settings.get("agent_id") or 0), "userid_list": notice.to, "msg": msg}
    _with_token(sender, _dingtalk_token, lambda token: _answer(sender.post(
        f"{base}/topapi/message/corpconversation/asyncsend_v2", params={"access_token": token}, json=message)))


def dingtalk_sign(secret: str, timestamp: int) -> str:
    """The robot's signature (加签): base64 HMAC-SHA256 of "timestamp\\nsecret", url-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def send_dingtalk_robot(sender: Sender, notice: Outgoing) -> None:
    url = sender.settings.get("webhook_url", "")
    if sender.secret:
        timestamp = int(sender.now.timestamp() * 1000)
        url += f"{'&' if '?' in url else '?'}timestamp={timestamp}&sign={dingtalk_sign(sender.secret, timestamp)}"
    _answer(sender.post(url, json={"msgtype": "text", "text": {"content": _to_group(notice)}}))


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def send_webhook(sender: Sender, notice: Outgoing) -> None:
    body = json.dumps({"event": notice.kind, "title": notice.title, "body": notice.body, "link": notice.url,
                       "recipient": notice.recipient, "sent_at": sender.now.isoformat()},
                      ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json; charset=utf-8", "X-Bingan-Timestamp": timestamp,
               "X-Bingan-Signature": webhook_signature(sender.secret, timestamp, body)}
    response = sender.post(sender.settings.get("url", ""), content=body, headers=headers)
    if not 200 <= response.status_code < 300:
        raise DeliveryError(str(response.status_code), response.text[:200] or f"HTTP {response.status_code}")


def _to_group(notice: Outgoing) -> str:
    """A group sees whom the notice is for (the robot cannot message one person)."""
    name = notice.recipient.get("name")
    return f"{notice.text()}\n（通知：{name}）" if name else notice.text()


def _box() -> SecretBox:
    return SecretBox.of(get_settings())


@dataclass(frozen=True)
class ChannelKind:
    code: str
    name: str
    send: Callable[[Sender, Outgoing], None]
    binding: str = ""  # "wecom" / "dingtalk": sent to each user by their bound id; "" = one group address
    fields: tuple[tuple[str, str], ...] = ()  # settings: (key, label)
    secret_label: str = ""


CHANNELS: dict[str, ChannelKind] = {kind.code: kind for kind in (
    ChannelKind("wecom", "企业微信应用消息", send_wecom, "wecom",
                (("corp_id", "企业ID（corpid）"), ("agent_id", "应用AgentId"), ("base_url", "接口地址（留空为官方）")),
                "应用Secret（corpsecret）"),
    ChannelKind("wecom_robot", "企业微信群机器人", send_wecom_robot, "",
                (("webhook_url", "机器人Webhook地址"),)),
    ChannelKind("dingtalk", "钉钉工作通知", send_dingtalk, "dingtalk",
                (("app_key", "AppKey"), ("agent_id", "应用AgentId"), ("base_url", "接口地址（留空为官方）")),
                "AppSecret"),
    ChannelKind("dingtalk_robot", "钉钉群机器人", send_dingtalk_robot, "",
                (("webhook_url", "机器人Webhook地址"),), "加签密钥（SEC…）"),
    ChannelKind("webhook", "Webhook / 消息平台", send_webhook, "",
                (("url", "接收地址"),), "签名密钥"),
)}
BINDINGS = {"wecom": "企业微信账号（UserID）", "dingtalk": "钉钉账号（userid）"}
