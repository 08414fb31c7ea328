"""Request dependencies: the database transaction, who is asking, and the guards every route declares.

Each route carries exactly one guard (public, signed_in, pending, permission, record_gate,
document_gate). The guard is both the enforcement and the declaration the authorisation-matrix
test reads, so a route without a guard fails the suite.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy import event
from sqlalchemy.orm import Session, selectinload

from bingan.access.api_tokens import find_token, token_subject
from bingan.access.audit import Actor, record_event
from bingan.access.audit_seal import start_sealer
from bingan.access.policy import Subject, decide_for, ip_problem, load_subject
from bingan.access.security_settings import security_settings
from bingan.access.sessions import find_session, needs_second_factor, touch
from bingan.storage.db import begin_writes, session_factory
from bingan.storage.models import Document, DocumentType, Record, User, WebSession
from bingan.web import kiosk
from bingan.web.inputs import RowId
from bingan.web.security import SAFE_METHODS, SESSION_COOKIE, api_bearer


class LoginRequired(Exception):
    """Handled by the app: HTML pages redirect to /login, the API answers 401."""

    def __init__(self, message: str = "", location: str = "/login") -> None:
        super().__init__(message)
        self.message = message
        self.location = location


class Refused(HTTPException):
    """403 with the gate's Chinese reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(status_code=403, detail=reason)


def _request_session(request: Request) -> Iterator[Session]:
    """One transaction per request; committed when the route returns, before the response is sent.

    Changes (unsafe methods) take the write lock at BEGIN so what they read is what they change.
    Reads (GET) run on a snapshot and write only at the end — the audit event, browsing history,
    the session's last-seen time — so autoflush is off: nothing reaches the database (and no
    SQLite write lock is held) until the route's explicit flush or the commit. Audit events are
    appended, not chained: this process's background sealer chains them after the commit.
    """
    start_sealer(request.app.state.engine)
    reading = request.method in SAFE_METHODS
    lock_at_begin = not reading and request.url.path not in LOCKS_ITSELF
    session = session_factory(request.app.state.engine)(autoflush=not reading)
    try:
        if reading:
            session.info[AUDIT_QUEUE] = []
            event.listen(session, "before_commit", _write_queued_events)
        elif lock_at_begin:
            begin_writes(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


AUDIT_QUEUE = "bingan_audit_queue"
# Unsafe routes that do slow work before writing (login: argon2) and take the lock themselves
# right before the write (sessions.login), so fifty people logging in do not queue on it.
LOCKS_ITSELF = frozenset({"/login"})


def _write_queued_events(session: Session) -> None:
    """A reading request's audit events, written (and chained) just before its commit."""
    queue = session.info.get(AUDIT_QUEUE) or []
    while queue:
        actor, action, fields = queue.pop(0)
        record_event(session, actor, action, **fields)


# scope="function": commit before the response goes out, so a failed commit is an error (and
# retried by RetryLocked) rather than a page served whose audit event was lost.
DB: Any = Depends(_request_session, scope="function")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


@dataclass
class Ctx:
    """The signed-in user of this request."""

    user: User
    web_session: WebSession
    ip: str
    session: Session
    _subject: Subject | None = None

    @property
    def actor(self) -> Actor:
        return Actor.of(self.user, self.ip)

    @property
    def subject(self) -> Subject:
        if self._subject is None:
            self._subject = load_subject(self.session, self.user, self.ip)
        return self._subject

    def can(self, permission: str) -> bool:
        return permission in self.subject.permissions

    def audit(self, action: str, **fields: Any) -> None:
        """Record an event in this request's transaction; reading requests write it at commit."""
        queue = self.session.info.get(AUDIT_QUEUE)
        if queue is not None:
            queue.append((self.actor, action, fields))
            return
        record_event(self.session, self.actor, action, **fields)


def _session_ctx(request: Request, session: Session) -> Ctx:
    ip = client_ip(request)
    bearer = api_bearer(request)
    if bearer:
        return _token_ctx(request, session, bearer, ip)
    web_session = find_session(session, request.cookies.get(SESSION_COOKIE))
    if web_session is None:
        raise LoginRequired()
    refusal = touch(session, web_session, ip)
    if refusal:
        session.commit()  # the ended session and its audit event must survive the redirect
        raise LoginRequired(refusal)
    ctx = Ctx(web_session.user, web_session, ip, session)
    request.state.ctx = ctx
    return ctx


def _token_ctx(request: Request, session: Session, bearer: str, ip: str) -> Ctx:
    """A hospital system calling the JSON API with its token: the token's service user, its permissions only."""
    token = find_token(session, bearer)
    if token is None:
        raise LoginRequired("接口令牌无效、已过期或已吊销")
    stand_in = WebSession(id="", user_id=token.user_id, second_factor_done=True)  # never stored
    ctx = Ctx(token.user, stand_in, ip, session, token_subject(session, token))
    request.state.ctx = ctx
    return ctx


def pending_stage(ctx: Ctx) -> str | None:
    """Where a signed-in user must go before anything else, if anywhere.

    The second factor comes first: until it is done the session is only a password, and a
    password alone changes nothing (not even the password).
    """
    if not ctx.web_session.second_factor_done and needs_second_factor(ctx.user):
        return "/login/totp" if ctx.user.totp_secret else "/account/totp"
    if ctx.user.must_change_password:
        return "/account/password"
    return None


def _rule(kind: str, detail: str = "") -> Callable[[Callable], Callable]:
    def mark(function: Callable) -> Callable:
        function.__rule__ = (kind, detail)  # type: ignore[attr-defined]
        return function
    return mark


@_rule("public")
def _public() -> None:
    return None


def public() -> Any:
    return Depends(_public)


def _pending_ctx(request: Request, session: Session = DB) -> Ctx:
    """A session owing a step reaches that step's page only; a full session reaches them all."""
    ctx = _session_ctx(request, session)
    stage = pending_stage(ctx)
    if stage and stage != request.url.path:
        raise LoginRequired("", location=stage)
    refusal = ip_problem(session, ctx.ip)
    if refusal:
        raise Refused(refusal)
    return ctx


_pending_ctx.__rule__ = ("pending", "")  # type: ignore[attr-defined]


def pending() -> Any:
    """Signed in, possibly still owing a step (second factor, then password change): its page only."""
    return Depends(_pending_ctx)


def _full_ctx(request: Request, session: Session = DB) -> Ctx:
    ctx = _session_ctx(request, session)
    stage = pending_stage(ctx)
    if stage:
        raise LoginRequired("", location=stage)
    refusal = ip_problem(session, ctx.ip)
    if refusal:
        raise Refused(refusal)
    _kiosk_fence(request, ctx)
    return ctx


def _kiosk_fence(request: Request, ctx: Ctx) -> None:
    """The kiosk's service account reaches the kiosk's pages only (web/kiosk.py)."""
    verdict = kiosk.fenced(request, ctx.session, ctx.subject.permissions)
    if verdict == "home":
        raise LoginRequired("", location=kiosk.HOME)
    if verdict:
        ctx.audit("denied", object_type="route", detail={"权限": kiosk.PERMISSION, "地址": request.url.path[:200]})
        ctx.session.commit()
        raise Refused(kiosk.ONLY_KIOSK)


@_rule("self")
def _self_ctx(ctx: Ctx = Depends(_full_ctx)) -> Ctx:
    return ctx


def signed_in() -> Any:
    """Any signed-in user acting on their own things (history, favourites, settings)."""
    return Depends(_self_ctx)


def permission(code: str) -> Any:
    @_rule("perm", code)
    def guard(ctx: Ctx = Depends(_full_ctx)) -> Ctx:
        if not ctx.can(code):
            ctx.audit("denied", object_type="route", detail={"权限": code})
            ctx.session.commit()
            raise Refused("您没有访问此功能的权限")
        return ctx
    return Depends(guard)


def any_permission(*codes: str) -> Any:
    """Any one of these permissions (a page shared by two duties, e.g. the review queues: reviewers
    see first review and re-review, operators their rework); the route checks the one it needs."""
    @_rule("any", " ".join(codes))
    def guard(ctx: Ctx = Depends(_full_ctx)) -> Ctx:
        if not any(ctx.can(code) for code in codes):
            ctx.audit("denied", object_type="route", detail={"权限": "、".join(codes)})
            ctx.session.commit()
            raise Refused("您没有访问此功能的权限")
        return ctx
    return Depends(guard)


def require(ctx: Ctx, code: str) -> None:
    """Inside a route of ``any_permission``: the one permission this request needs."""
    if not ctx.can(code):
        ctx.audit("denied", object_type="route", detail={"权限": code})
        ctx.session.commit()
        raise Refused("您没有访问此功能的权限")


def load_record(session: Session, record_id: int) -> Record:
    record = session.get(Record, record_id, options=[selectinload(Record.tags)])
    if record is None:
        raise HTTPException(status_code=404, detail="病案不存在")
    return record


@dataclass
class RecordAccess:
    ctx: Ctx
    record: Record
    document: Document | None = None


def _gate(ctx: Ctx, action: str, record: Record, document: Document | None) -> RecordAccess:
    decision = decide_for(ctx.subject, action, record, document=document)
    if not decision:
        ctx.audit("denied", object_type="document" if document else "record",
                  object_id=document.id if document else record.id, record_id=record.id,
                  document_id=document.id if document else None, result="denied",
                  detail={"操作": action, "原因": decision.reason_zh})
        ctx.session.commit()  # the refusal is audited even though the request fails
        raise Refused(decision.reason_zh)
    return RecordAccess(ctx, record, document)


def gate_record(ctx: Ctx, action: str, record: Record) -> RecordAccess:
    """The gate inside a route reached by another row's id (a mark, a request): same audit, same 403."""
    return _gate(ctx, action, record, None)


def record_gate(action: str) -> Any:
    @_rule("record", action)
    def guard(record_id: RowId, ctx: Ctx = Depends(_full_ctx)) -> RecordAccess:
        return _gate(ctx, action, load_record(ctx.session, record_id), None)
    return Depends(guard)


def document_gate(action: str) -> Any:
    @_rule("document", action)
    def guard(document_id: RowId, ctx: Ctx = Depends(_full_ctx)) -> RecordAccess:
        document = ctx.session.get(Document, document_id)
        if document is None:
            raise HTTPException(status_code=404, detail="文书不存在")
        ctx.session.get(DocumentType, document.document_type_id)
        return _gate(ctx, action, load_record(ctx.session, document.record_id), document)
    return Depends(guard)


def idle_minutes(session: Session) -> int:
    return security_settings(session).idle_minutes
