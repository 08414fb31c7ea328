"""Share-link pages (限时分享链接, F3, S14): on the record page the record's links with their
openings, a form to make one, revoke; and the recipient's viewer at ``/s/<token>`` (no login):
the chosen pages, each watermarked "仅供 <接收人> 查看", refused with a Chinese page once the
link is revoked, expired, used up or its record sealed."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from bingan import clock
from bingan.errors import NotFound, Refusal
from bingan.records.pages import serve_page
from bingan.records.release import rules, share_links
from bingan.storage.models import Record, utcnow
from bingan.web.deps import DB, RecordAccess, client_ip, public, record_gate
from bingan.web.errors import back_on_refusal
from bingan.web.inputs import PageNumber, RowId
from bingan.web.records.images import JPEG, renderer
from bingan.web.render import hospital_name, page
from bingan.web.security import cookie_options

router = APIRouter(include_in_schema=False)
SHARE_COOKIE = "bingan_share"
LINKS = "/records/{record_id}/share-links"
NEW = LINKS + "/new"
Token = Annotated[str, Path(min_length=1, max_length=share_links.MAX_TOKEN, description="分享链接的令牌")]
DEFAULT_DAYS = 7
DEFAULT_VIEWS = 5


# --- the recipient's viewer (public) -------------------------------------------------------------

@router.get("/s/{token}", response_class=HTMLResponse, dependencies=[public()])
def shared(request: Request, token: Token, session: Session = DB) -> Response:
    """A new opening (counted), or the same opening reloaded (its cookie, not counted again)."""
    link = share_links.find_link(session, token)
    if link is None:
        return _refused(request, session, "分享链接无效，请向发送链接的医院核实", 404)
    key = request.cookies.get(SHARE_COOKIE, "")
    fresh = ""
    try:
        if share_links.current_opening(session, link, key):
            share_links.viewable(session, link, key)
        else:
            link, fresh = share_links.open_link(session, token, client_ip(request),
                                                request.headers.get("user-agent", ""))
    except share_links.LinkRefused as refusal:
        session.commit()  # the refused opening stays audited
        return _refused(request, session, str(refusal), refusal.status)
    record = session.get(Record, link.record_id)
    response = page(request, "release/shared.html", None, session=session, link=link, record=record, token=token,
                    documents=share_links.live_documents(session, link), hospital=hospital_name(request, session))
    if fresh:
        response.set_cookie(SHARE_COOKIE, fresh, **{**cookie_options(request), "path": share_links.PATH + token})
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _refused(request: Request, session: Session, message: str, status: int) -> Response:
    response = page(request, "release/share_refused.html", None, session=session, message=message,
                    status_code=status)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/s/{token}/pages/{document_id}/{number}", dependencies=[public()])
def shared_page(request: Request, token: Token, document_id: RowId, number: PageNumber,
                session: Session = DB) -> Response:
    """A page of the link's documents during one of its openings, with the recipient's watermark."""
    link = share_links.find_link(session, token)
    if link is None:
        raise NotFound("页面不存在")
    share_links.viewable(session, link, request.cookies.get(SHARE_COOKIE, ""))
    _, version = share_links.shared_page(session, link, document_id, number)
    ip, now = client_ip(request), utcnow()
    base = renderer(request).base(version.sha256, version.media_type, number)
    lines = share_links.visible_lines(link, hospital_name(request, session), ip, now)
    data = serve_page(base, user_id=link.created_by_id, lines=lines, when=now)
    share_links.note_page(session, link, ip, document_id, number, version.number)
    return Response(data, media_type=JPEG, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


# --- on the record page (staff) ------------------------------------------------------------------

@router.get(LINKS, response_class=HTMLResponse)
def record_links(request: Request, access: RecordAccess = record_gate("export")) -> Response:
    """The record page's panel (loaded by htmx): the record's links, their state and openings."""
    session, record = access.ctx.session, access.record
    rows = [{"link": link, "status": share_links.status_of(link, record),
             "openings": share_links.openings_of(session, link),
             "categories": "、".join(dict.fromkeys(item["category_name"] for item in link.items))}
            for link in share_links.links_of(session, record.id)]
    return page(request, "release/_share_links.html", access.ctx, record=record, rows=rows,
                statuses=share_links.STATUS_NAMES)


@router.get(NEW, response_class=HTMLResponse)
def new_link(request: Request, access: RecordAccess = record_gate("export")) -> Response:
    default_expiry = clock.now() + timedelta(days=DEFAULT_DAYS)
    return page(request, "release/share_new.html", access.ctx, record=access.record,
                categories=rules.category_names(access.ctx.session), error=request.query_params.get("error", ""),
                expires=f"{default_expiry:%Y-%m-%dT%H:%M}", views=DEFAULT_VIEWS, max_views=share_links.MAX_VIEWS)


@router.post(LINKS, response_class=HTMLResponse, dependencies=[back_on_refusal(NEW)])
def create_link(request: Request, recipient: str = Form("", max_length=50), expires_at: str = Form("", max_length=32),
                max_views: str = Form("", max_length=8), purpose: str = Form("", max_length=100),
                categories: list[str] = Form([], max_length=100),
                access: RecordAccess = record_gate("export")) -> Response:
    """The link is shown this once (only its hash is kept)."""
    ctx = access.ctx
    form = share_links.ShareForm(recipient, _when(expires_at), _views(max_views), categories, purpose)
    link, token = share_links.create_link(ctx.session, ctx.actor, ctx.user, ctx.subject, access.record, form)
    return page(request, "release/share_created.html", ctx, record=access.record, link=link,
                url=share_links.address(ctx.session, token, str(request.base_url)), status_code=201)


def _when(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise Refusal("请填写有效期（日期和时间）") from None


def _views(text: str) -> int:
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= share_links.MAX_VIEWS:
        raise Refusal(f"可打开次数应为 1 至 {share_links.MAX_VIEWS} 的整数")
    return int(value)


@router.post(LINKS + "/{share_link_id}/revoke", dependencies=[back_on_refusal("/records/{record_id}")])
def revoke_link(share_link_id: RowId, access: RecordAccess = record_gate("export")) -> Response:
    ctx = access.ctx
    link = share_links.get_link(ctx.session, share_link_id)
    if link.record_id != access.record.id:
        raise NotFound("分享链接不存在")
    share_links.revoke(ctx.session, ctx.actor, ctx.user, link)
    return RedirectResponse(f"/records/{access.record.id}#share-links", status_code=303)
