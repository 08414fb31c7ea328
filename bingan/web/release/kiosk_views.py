"""The self-service copy kiosk's screens (自助复印打印机, issue 15 item 4), one step a screen, full
screen with no menu: 1 请刷身份证 → 2 本人病案 → 3 套餐与份数 → 4 缴费 → 5 打印 → 6 完成.

Signed in on the kiosk PC as a service account holding ``copy.kiosk``; the patient at the kiosk
is the visit (web/kiosk.py), and every screen asks records/release/kiosk.py, which makes the
window's requests by the window's rules. Every step is audited naming the patient's ID number
(masked) as the applicant; a refusal is shown with its reason on the kiosk's own screen.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.errors import NotFound, Refusal
from bingan.records import jobs
from bingan.records.release import kiosk, rules, service
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import Record
from bingan.storage.models.jobs import Job
from bingan.storage.models.release import CopyRequest
from bingan.web import kiosk as visit
from bingan.web.deps import Ctx, permission
from bingan.web.inputs import RowId
from bingan.web.release.views import CARD_FIELDS, reader_policy
from bingan.web.render import page
from bingan.web.security import CONTENT_SECURITY_POLICY

router = APIRouter(include_in_schema=False)
HOME = visit.HOME
REQUEST = HOME + "/requests/{copy_request_id}"
IDLE_SECONDS = 90  # untouched this long, a screen goes back to 请刷身份证 and forgets the patient
DONE_SECONDS = 20  # the done screen's own way back
GUARD = permission(visit.PERMISSION)


def _screen(request: Request, ctx: Ctx, template: str, step: int, visitor: kiosk.Visitor | None = None,
            status_code: int = 200, **data) -> Response:
    response = page(request, f"kiosk/{template}", ctx, status_code=status_code, step=step, visitor=visitor,
                    idle_seconds=IDLE_SECONDS, **data)
    return visit.keep_visit(request, response, visitor) if visitor else response


def _refused(request: Request, ctx: Ctx, visitor: kiosk.Visitor | None, message: str, status_code: int,
             back: str = HOME) -> Response:
    ctx.audit("copy.kiosk_refused", object_type="copy_request", detail={**_applicant(visitor), "原因": message})
    return _screen(request, ctx, "refused.html", 0, visitor, status_code, message=message, back=back)


def _applicant(visitor: kiosk.Visitor | None) -> dict:
    """How the audit trail names the patient at the kiosk: the masked ID number, whether read from the card."""
    if visitor is None:
        return {}
    return {"申请人": visitor.masked, "申请人类型": "患者本人（自助机）", "读卡": bool(visitor.card)}


class _Answer(Exception):
    """Another screen than the one asked for: start again, or the refusal screen."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


def _answers(route: Callable[..., Response]) -> Callable[..., Response]:
    @functools.wraps(route)
    def answered(*args, **kwargs) -> Response:
        try:
            return route(*args, **kwargs)
        except _Answer as answer:
            return answer.response
    return answered


def _visitor(request: Request) -> kiosk.Visitor:
    found = visit.read_visit(request)
    if found is None:  # the visit ended (timeout, 返回首页): start again
        raise _Answer(RedirectResponse(HOME + "?again=1", status_code=303))
    return found


def _own_record(request: Request, ctx: Ctx, record_id: int) -> tuple[kiosk.Visitor, Record]:
    visitor = _visitor(request)
    try:
        return visitor, kiosk.own_record(ctx.session, visitor, record_id)
    except NotFound as exc:
        raise _Answer(_refused(request, ctx, visitor, str(exc), 404, back=HOME + "/records")) from exc


def _own(request: Request, ctx: Ctx, copy_request_id: int) -> tuple[kiosk.Visitor, CopyRequest]:
    visitor = _visitor(request)
    try:
        return visitor, kiosk.own_request(ctx.session, ctx.user, visitor, copy_request_id)
    except NotFound as exc:
        raise _Answer(_refused(request, ctx, visitor, str(exc), 404)) from exc


# --- 1 请刷身份证 -------------------------------------------------------------------------------

@router.get(HOME, response_class=HTMLResponse)
def start(request: Request, ctx: Ctx = GUARD) -> Response:
    """The start screen; coming here ends any visit (返回首页, the idle timeout)."""
    return _start(request, ctx)


def _start(request: Request, ctx: Ctx, error: str = "", status_code: int = 200) -> Response:
    reader = rules.copy_rules(ctx.session).card_reader_url
    again = "您已离开一段时间，请重新刷身份证" if request.query_params.get("again") and not error else ""
    response = _screen(request, ctx, "start.html", 1, status_code=status_code, reader_url=reader, error=error,
                       notice=again, typed_entry=rules.copy_rules(ctx.session).kiosk_typed_entry)
    response.headers["Content-Security-Policy"] = reader_policy(reader)
    return visit.end_visit(response)


@router.post(HOME + "/identify")
def identify(request: Request, id_number: str = Form("", max_length=30), name: str = Form("", max_length=50),
             card: str = Form("", max_length=4000), ctx: Ctx = GUARD) -> Response:
    try:
        if not card.strip() and not rules.copy_rules(ctx.session).kiosk_typed_entry:
            raise Refusal("请将身份证放在读卡区刷卡：本院自助机不接受手工输入身份证号")
        visitor = kiosk.identify(ctx.session, id_number, name, _card(card))
    except Refusal as exc:
        ctx.audit("copy.kiosk_refused", object_type="patient", detail={
            "申请人": service.mask_id(id_number.strip().upper()), "读卡": bool(card.strip()), "原因": str(exc)})
        return _start(request, ctx, str(exc), status_code=exc.status)
    ctx.audit("copy.kiosk_identify", object_type="patient", detail=_applicant(visitor))
    return visit.keep_visit(request, RedirectResponse(HOME + "/records", status_code=303), visitor)


def _card(text: str) -> dict:
    """What the reader gave (kept by the page as JSON), photo excluded; a typed visit has none."""
    try:
        given = json.loads(text) if text.strip() else {}
    except ValueError:
        given = {}
    return {key: str(given[key])[:100] for key in CARD_FIELDS if key in given} if isinstance(given, dict) else {}


# --- 2 本人病案 ---------------------------------------------------------------------------------

@router.get(HOME + "/records", response_class=HTMLResponse)
@_answers
def records(request: Request, ctx: Ctx = GUARD) -> Response:
    visitor = _visitor(request)
    own = kiosk.own_records(ctx.session, visitor)
    ctx.audit("copy.kiosk_records", object_type="patient", detail={**_applicant(visitor), "病案数": len(own)})
    return _screen(request, ctx, "records.html", 2, visitor, own=own)


# --- 3 套餐与份数 -------------------------------------------------------------------------------

@router.get(HOME + "/records/{record_id}", response_class=HTMLResponse)
@_answers
def choose(request: Request, record_id: RowId, ctx: Ctx = GUARD) -> Response:
    visitor, record = _own_record(request, ctx, record_id)
    reason = kiosk.refusal(record, rules.copy_rules(ctx.session))
    if reason:
        return _refused(request, ctx, visitor, reason, 400, back=HOME + "/records")
    ctx.audit("copy.kiosk_choose", object_type="record", object_id=record.id, record_id=record.id,
              detail=_applicant(visitor))
    return _choose(request, ctx, visitor, record)


def _choose(request: Request, ctx: Ctx, visitor: kiosk.Visitor, record, error: str = "",
            status_code: int = 200) -> Response:
    stage = record.status != "archived"
    return _screen(request, ctx, "choose.html", 3, visitor, status_code, record=record, error=error,
                   packages=kiosk.choosable_packages(ctx.session), max_copies=kiosk.MAX_COPIES,
                   warnings=service.record_warnings(ctx.session, record, stage),
                   fees=rules.copy_rules(ctx.session).fees, yuan=rules.yuan)


@router.post(HOME + "/records/{record_id}/requests")
@_answers
def apply(request: Request, record_id: RowId, package: str = Form("", max_length=32),
          copies: int = Form(1, ge=1, le=service.MAX_COPIES), ctx: Ctx = GUARD) -> Response:
    visitor, record = _own_record(request, ctx, record_id)
    try:
        copy_request = kiosk.apply(ctx.session, ctx.actor, ctx.user, visitor, record, package, copies)
    except Refusal as exc:
        ctx.session.rollback()
        ctx.audit("copy.kiosk_refused", object_type="record", object_id=record.id, record_id=record.id,
                  detail={**_applicant(visitor), "原因": str(exc)})
        return _choose(request, ctx, visitor, record, str(exc), status_code=400)
    ctx.audit("copy.kiosk_apply", object_type="copy_request", object_id=copy_request.id, record_id=record.id,
              detail={**_applicant(visitor), "套餐": package, "份数": copies, "金额": rules.yuan(copy_request.fee_fen)})
    return visit.keep_visit(request, _to(copy_request.id), visitor)


# --- 4 缴费 · 5 打印 ----------------------------------------------------------------------------

@router.get(REQUEST, response_class=HTMLResponse)
@_answers
def request_screen(request: Request, copy_request_id: RowId, ctx: Ctx = GUARD) -> Response:
    """Step 4 (pay) while payment is due, step 5 (the copy job, then the print dialog) after it."""
    visitor, copy_request = _own(request, ctx, copy_request_id)
    ctx.audit("copy.kiosk_view", object_type="copy_request", object_id=copy_request.id, detail=_applicant(visitor))
    return _request_screen(request, ctx, visitor, copy_request)


def _request_screen(request: Request, ctx: Ctx, visitor: kiosk.Visitor, copy_request: CopyRequest,
                    error: str = "", status_code: int = 200) -> Response:
    view = service.as_json(ctx.session, copy_request)
    job = ctx.session.get(Job, copy_request.job_id) if copy_request.job_id else None
    paying = service.payable(copy_request)
    return _screen(request, ctx, "pay.html" if paying else "print.html", 4 if paying else 5, visitor, status_code,
                   view=view, job=jobs.job_view(job) if job else None, methods=kiosk.PAYMENT_METHODS, error=error,
                   yuan=rules.yuan, base=REQUEST.format(copy_request_id=copy_request.id))


@router.post(REQUEST + "/pay")
@_answers
def pay(request: Request, copy_request_id: RowId, method: str = Form("", max_length=10),
        reference: str = Form("", max_length=64), ctx: Ctx = GUARD) -> Response:
    visitor, copy_request = _own(request, ctx, copy_request_id)
    try:
        kiosk.pay(ctx.session, ctx.actor, ctx.user, copy_request, method, reference)
    except Refusal as exc:
        ctx.session.rollback()
        copy_request = kiosk.own_request(ctx.session, ctx.user, visitor, copy_request_id)
        return _request_screen(request, ctx, visitor, copy_request, str(exc), status_code=exc.status)
    ctx.audit("copy.kiosk_pay", object_type="copy_request", object_id=copy_request.id,
              detail={**_applicant(visitor), "金额": rules.yuan(copy_request.fee_fen),
                      "方式": kiosk.PAYMENT_METHODS[method], "凭证号": copy_request.payment_reference})
    return visit.keep_visit(request, _to(copy_request.id), visitor)


@router.post(REQUEST + "/cancel")
@_answers
def cancel(request: Request, copy_request_id: RowId, ctx: Ctx = GUARD) -> Response:
    """返回 from the pay screen: the unpaid request is cancelled, the patient chooses again."""
    visitor, copy_request = _own(request, ctx, copy_request_id)
    record_id = copy_request.record_ids[0]
    if copy_request.status == "registered":
        service.cancel(ctx.session, ctx.actor, copy_request)
        ctx.audit("copy.kiosk_cancel", object_type="copy_request", object_id=copy_request.id,
                  detail=_applicant(visitor))
    return visit.keep_visit(request, RedirectResponse(f"{HOME}/records/{record_id}", status_code=303), visitor)


@router.get(REQUEST + "/copy.pdf")
@_answers
def copy_pdf(request: Request, copy_request_id: RowId, ctx: Ctx = GUARD) -> Response:
    """The finished copy, inline, for the print screen's frame and the browser's print dialog."""
    visitor, copy_request = _own(request, ctx, copy_request_id)
    job = ctx.session.get(Job, copy_request.job_id) if copy_request.job_id else None
    if job is None or job.state != "done" or not job.result_sha256:
        back = REQUEST.format(copy_request_id=copy_request.id)
        return _refused(request, ctx, visitor, "复印件尚未生成", 404, back=back)
    with open_blob_store(request.app.state.settings).open(job.result_sha256) as stream:
        data = stream.read()
    ctx.audit("copy.kiosk_print_open", object_type="copy_request", object_id=copy_request.id,
              detail={**_applicant(visitor), "文件": job.result_name, "页数": copy_request.pages})
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(job.result_name)}",
        "Cache-Control": "private, no-store",
        # the print screen shows it in its own frame to open the print dialog
        "Content-Security-Policy": CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors 'self'")})


# --- 6 完成 -------------------------------------------------------------------------------------

@router.get(REQUEST + "/done", response_class=HTMLResponse)
@_answers
def done(request: Request, copy_request_id: RowId, ctx: Ctx = GUARD) -> Response:
    """Take the copies and the card; the screen goes back to 请刷身份证 by itself. The visit ends here."""
    visitor, copy_request = _own(request, ctx, copy_request_id)
    if copy_request.status != "printed":
        return _to(copy_request.id)
    ctx.audit("copy.kiosk_view", object_type="copy_request", object_id=copy_request.id,
              detail={**_applicant(visitor), "步骤": "完成"})
    response = _screen(request, ctx, "done.html", 6, None, view=service.as_json(ctx.session, copy_request),
                       done_seconds=DONE_SECONDS)
    return visit.end_visit(response)


def _to(copy_request_id: int) -> Response:
    return RedirectResponse(REQUEST.format(copy_request_id=copy_request_id), status_code=303)
