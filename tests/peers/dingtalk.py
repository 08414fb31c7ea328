"""A DingTalk (钉钉) stand-in implementing the documented APIs we use, served for real:
``GET /gettoken`` (appkey + appsecret → access_token), work notices
``POST /topapi/message/corpconversation/asyncsend_v2?access_token`` (agent_id, userid_list;
40014 unknown token, 42001 expired) and the custom robot ``POST /robot/send?access_token`` whose
加签 is checked: ``sign`` = url-encoded base64 HMAC-SHA256(secret, "timestamp\\nsecret") with a
timestamp (ms) within an hour (errcode 310000 otherwise)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field

from fastapi import FastAPI, Request


@dataclass
class DingTalkState:
    app_key: str = "dingappkey0001"
    app_secret: str = "ding-app-secret-for-tests"
    agent_id: int = 2000001
    robot_token: str = "robot-access-token"
    robot_secret: str = "SEC0123456789abcdef"
    tokens: dict[str, bool] = field(default_factory=dict)
    notices: list[dict] = field(default_factory=list)
    robot_messages: list[dict] = field(default_factory=list)
    signs: list[tuple[str, str]] = field(default_factory=list)  # (timestamp, sign) as received


def expected_sign(secret: str, timestamp: str) -> str:
    """Decoded by the web framework already, so compared before url-encoding."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def make_app(state: DingTalkState) -> FastAPI:
    app = FastAPI()

    @app.get("/gettoken")
    def gettoken(appkey: str = "", appsecret: str = "") -> dict:
        if appkey != state.app_key or appsecret != state.app_secret:
            return {"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"}
        token = f"ding-token-{len(state.tokens) + 1}"
        state.tokens[token] = True
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

    @app.post("/topapi/message/corpconversation/asyncsend_v2")
    async def asyncsend(request: Request, access_token: str = "") -> dict:
        if access_token not in state.tokens:
            return {"errcode": 40014, "errmsg": "不合法的access_token"}
        if not state.tokens[access_token]:
            return {"errcode": 42001, "errmsg": "access_token超时"}
        message = await request.json()
        if message.get("agent_id") != state.agent_id:
            return {"errcode": 400003, "errmsg": "agent_id不合法"}
        state.notices.append(message)
        return {"errcode": 0, "errmsg": "ok", "task_id": len(state.notices), "request_id": "r1"}

    @app.post("/robot/send")
    async def robot(request: Request, access_token: str = "", timestamp: str = "", sign: str = "") -> dict:
        if access_token != state.robot_token:
            return {"errcode": 300001, "errmsg": "token is not exist"}
        state.signs.append((timestamp, sign))
        fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) < 3600_000
        if not fresh or not hmac.compare_digest(sign, expected_sign(state.robot_secret, timestamp)):
            return {"errcode": 310000, "errmsg": "sign not match"}
        state.robot_messages.append(await request.json())
        return {"errcode": 0, "errmsg": "ok"}

    return app
