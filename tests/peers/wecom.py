"""A WeCom (企业微信) stand-in implementing the documented server API we use, served for real:
``GET /cgi-bin/gettoken`` (corpid + corpsecret → access_token, expires_in 7200), application
messages ``POST /cgi-bin/message/send?access_token`` (errcode 40014 for an unknown token, 42001
for an expired one, 40056 for a wrong agentid, ``invaliduser`` for a member it does not know) and
the group robot ``POST /cgi-bin/webhook/send?key`` (93000 for a wrong key)."""
from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI, Request


@dataclass
class WeComState:
    corp_id: str = "ww0123456789"
    corp_secret: str = "corp-secret-for-tests"
    agent_id: int = 1000002
    robot_key: str = "robot-key-0001"
    members: set[str] = field(default_factory=lambda: {"LiZhuRen", "WangYiSheng"})
    tokens: dict[str, bool] = field(default_factory=dict)  # token -> still valid
    messages: list[dict] = field(default_factory=list)
    robot_messages: list[dict] = field(default_factory=list)

    def expire_tokens(self) -> None:
        self.tokens = dict.fromkeys(self.tokens, False)


def make_app(state: WeComState) -> FastAPI:
    app = FastAPI()

    @app.get("/cgi-bin/gettoken")
    def gettoken(corpid: str = "", corpsecret: str = "") -> dict:
        if corpid != state.corp_id or corpsecret != state.corp_secret:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        token = f"wecom-token-{len(state.tokens) + 1}"
        state.tokens[token] = True
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

    @app.post("/cgi-bin/message/send")
    async def message_send(request: Request, access_token: str = "") -> dict:
        if access_token not in state.tokens:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        if not state.tokens[access_token]:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        message = await request.json()
        if message.get("agentid") != state.agent_id:
            return {"errcode": 40056, "errmsg": "invalid agentid"}
        unknown = [user for user in message.get("touser", "").split("|") if user not in state.members]
        if unknown:
            return {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(unknown)}
        state.messages.append(message)
        return {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": f"msg{len(state.messages)}"}

    @app.post("/cgi-bin/webhook/send")
    async def robot_send(request: Request, key: str = "") -> dict:
        if key != state.robot_key:
            return {"errcode": 93000, "errmsg": "invalid webhook url"}
        state.robot_messages.append(await request.json())
        return {"errcode": 0, "errmsg": "ok"}

    return app
