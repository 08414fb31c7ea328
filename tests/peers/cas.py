"""A CAS server built from the CAS protocol specification (Apereo CAS Protocol 3.0, §2–§3), in a thread.

/login shows a form (or, with a live ticket-granting cookie, signs on at once) and sends the browser
back to ``service?ticket=ST-…``; /serviceValidate (2.0) and /p3/serviceValidate (3.0, with
cas:attributes) validate a service ticket once, for the service it was issued to, answering the
spec's XML; /logout?service= ends the single sign-on session and goes back to the service.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from html import escape
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

from peers.loopback import LoopbackPeer

TGC = "CASTGC"


@dataclass
class CasState:
    accounts: dict[str, dict]  # login -> {"password": …, "attributes": {…}}
    tickets: dict[str, tuple[str, str]] = field(default_factory=dict)  # ST -> (service, login)
    sessions: dict[str, str] = field(default_factory=dict)  # TGC -> login
    validations: list[str] = field(default_factory=list)  # paths asked, for the tests
    logouts: int = 0


def _failure(code: str, message: str) -> str:
    return (f'<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">'
            f'<cas:authenticationFailure code="{code}">{escape(message)}</cas:authenticationFailure>'
            f"</cas:serviceResponse>")


def _success(login: str, attributes: dict | None) -> str:
    values = "".join(f"<cas:{name}>{escape(str(value))}</cas:{name}>" for name, value in (attributes or {}).items())
    block = f"<cas:attributes>{values}</cas:attributes>" if attributes is not None else ""
    return (f'<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess>'
            f"<cas:user>{escape(login)}</cas:user>{block}</cas:authenticationSuccess></cas:serviceResponse>")


class CasPeer(LoopbackPeer):
    def __init__(self, accounts: dict[str, dict]) -> None:
        self.state = CasState(accounts)
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base_url}/cas"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                return None

            def _query(self) -> dict[str, str]:
                return {key: values[0] for key, values in parse_qs(urlsplit(self.path).query).items()}

            def _send(self, status: int, body: str, content_type: str = "text/html; charset=utf-8",
                      headers: dict[str, str] | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _to_service(self, service: str, login: str, cookie: str = "") -> None:
                ticket = f"ST-{secrets.token_urlsafe(16)}"
                state.tickets[ticket] = (service, login)
                headers = {"Location": f"{service}{'&' if '?' in service else '?'}{urlencode({'ticket': ticket})}"}
                if cookie:
                    headers["Set-Cookie"] = f"{TGC}={cookie}; Path=/cas; HttpOnly"
                self._send(302, "", headers=headers)

            def _tgc(self) -> str:
                morsel = SimpleCookie(self.headers.get("Cookie", "")).get(TGC)
                return morsel.value if morsel else ""

            def do_GET(self) -> None:
                path, query = urlsplit(self.path).path, self._query()
                if path == "/cas/login":
                    login = state.sessions.get(self._tgc())
                    if login and query.get("service"):
                        return self._to_service(query["service"], login)
                    return self._send(200, _login_page(query.get("service", ""), ""))
                if path in ("/cas/serviceValidate", "/cas/p3/serviceValidate"):
                    state.validations.append(path)
                    return self._send(200, self._validate(query, attributes=path.startswith("/cas/p3/")),
                                      "application/xml; charset=utf-8")
                if path == "/cas/logout":
                    state.sessions.pop(self._tgc(), None)
                    state.logouts += 1
                    headers = {"Set-Cookie": f"{TGC}=; Path=/cas; Max-Age=0"}
                    if query.get("service"):
                        headers["Location"] = query["service"]
                        return self._send(302, "", headers=headers)
                    return self._send(200, "<p>已退出统一身份认证</p>", headers=headers)
                return self._send(404, "not found")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
                account = state.accounts.get(form.get("username", ""))
                if account is None or account["password"] != form.get("password"):
                    return self._send(401, _login_page(form.get("service", ""), "用户名或密码错误"))
                cookie = secrets.token_urlsafe(16)
                state.sessions[cookie] = form["username"]
                return self._to_service(form.get("service", ""), form["username"], cookie)

            def _validate(self, query: dict[str, str], attributes: bool) -> str:
                if not query.get("ticket") or not query.get("service"):
                    return _failure("INVALID_REQUEST", "ticket and service are required")
                found = state.tickets.pop(query["ticket"], None)  # a ticket validates once (§3.1.1)
                if found is None:
                    return _failure("INVALID_TICKET", f"Ticket {query['ticket']} not recognized")
                service, login = found
                if service != query["service"]:
                    return _failure("INVALID_SERVICE", f"Ticket was not issued for {query['service']}")
                return _success(login, state.accounts[login].get("attributes", {}) if attributes else None)

        return Handler


def _login_page(service: str, error: str) -> str:
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>CAS 统一身份认证</title></head>'
            f"<body><h1>CAS 统一身份认证</h1>{f'<p id=error>{escape(error)}</p>' if error else ''}"
            f'<form method="post" action="/cas/login"><input type="hidden" name="service" value="{escape(service)}">'
            f'<label>用户名 <input name="username"></label><label>密码 <input name="password" type="password"></label>'
            f'<button type="submit" id="cas-submit">登录</button></form></body></html>')
