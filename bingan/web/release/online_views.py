"""Online copy applications in the record room (网上复印审核, copy.serve): the queue of applications
from the patient app, each with its applicant, papers and fee, approved (→ the window's flow:
payment, the copy job) or rejected with a reason; and the patient's download of the finished copy
at ``/copy-download/<token>`` (no login: the token, its date and its download count decide)."""
from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from bingan.errors import NotFound
from bingan.records.release import online, rules, service
from bingan.storage.blobs.port import open_blob_store
from bingan.web import navigation
from bingan.web.deps import DB, Ctx, client_ip, permission, public
from bingan.web.errors import back_on_refusal
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
QUEUE = "/copy-online"
ONE = QUEUE + "/{copy_request_id}"
REQUEST_PAGE = "/copy-window/requests/{copy_request_id}"
Token = Annotated[str, Path(min_length=1, max_length=online.MAX_TOKEN, description="下载链接的令牌")]
navigation.register("复印打印", "网上复印审核", QUEUE, "copy.serve", counter="copy_online")
navigation.register_counter("copy_online",
                            lambda ctx: online.pending_count(ctx.session) if ctx.can("copy.serve") else 0)


@router.get(QUEUE, response_class=HTMLResponse)
def queue(request: Request, ctx: Ctx = permission("copy.serve")) -> Response:
    waiting = online.pending(ctx.session)
    ctx.audit("copy.online_list", object_type="copy_request", detail={"条数": len(waiting)})
    return page(request, "release/online.html", ctx, items=[service.as_json(ctx.session, r) for r in waiting],
                error=request.query_params.get("error", ""), message=request.query_params.get("message", ""),
                yuan=rules.yuan)


@router.post(ONE + "/approve", dependencies=[back_on_refusal(QUEUE)])
def approve(copy_request_id: RowId, ctx: Ctx = permission("copy.serve")) -> Response:
    copy_request = service.get_request(ctx.session, copy_request_id)
    online.approve(ctx.session, ctx.actor, ctx.user, copy_request)
    return RedirectResponse(REQUEST_PAGE.format(copy_request_id=copy_request.id), status_code=303)


@router.post(ONE + "/reject", dependencies=[back_on_refusal(QUEUE)])
def reject(copy_request_id: RowId, reason: str = Form("", max_length=500),
           ctx: Ctx = permission("copy.serve")) -> Response:
    copy_request = service.get_request(ctx.session, copy_request_id)
    online.reject(ctx.session, ctx.actor, ctx.user, copy_request, reason)
    return RedirectResponse(f"{QUEUE}?message={quote(f'已驳回申请 {copy_request.id}')}", status_code=303)


@router.get(online.DOWNLOAD_PATH + "{token}", dependencies=[public()])
def download(request: Request, token: Token, session: Session = DB) -> Response:
    """The patient's certified copy as a file; a refusal is a Chinese page (and stays audited)."""
    try:
        copy_request, job = online.download(session, token, client_ip(request))
    except online.DownloadRefused as refusal:
        session.commit()
        return _refused(request, session, str(refusal), refusal.status)
    except NotFound as missing:
        return _refused(request, session, str(missing), 404)
    with open_blob_store(request.app.state.settings).open(job.result_sha256) as stream:
        data = stream.read()
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(f'病案复印件-{copy_request.id}.pdf')}",
        "Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"})


def _refused(request: Request, session: Session, message: str, status: int) -> Response:
    response = page(request, "release/online_refused.html", None, session=session, message=message,
                    status_code=status)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
