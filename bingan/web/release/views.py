"""The copy window (复印窗口, J1/J4/J6): find the records, take the applicant (ID card read through
the card-reader bridge on the clerk's PC, or typed), the scope and copies → a request with its
fee; then papers (photographed or uploaded), payment, the copy job's progress and the PDF for the
browser's print dialog, refund or cancel. Everything through records/release/service.py."""
from __future__ import annotations

import base64
import binascii
import json
from datetime import date
from urllib.parse import quote, urlsplit

import sqlalchemy as sa
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.errors import NotFound, Refusal
from bingan.records import jobs
from bingan.records.release import rules, service
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import Document, Record
from bingan.storage.models.jobs import Job
from bingan.web import navigation
from bingan.web.deps import Ctx, gate_record, load_record, permission
from bingan.web.errors import back_on_refusal
from bingan.web.inputs import MAX_ID, RowId
from bingan.web.render import page
from bingan.web.security import CONTENT_SECURITY_POLICY

router = APIRouter(include_in_schema=False)
navigation.register("复印打印", "复印窗口", "/copy-window", "copy.serve")
WINDOW = "/copy-window"
REQUEST_PAGE = WINDOW + "/requests/{copy_request_id}"
CARD_FIELDS = ("name", "sex", "nation", "birth", "address", "issuer", "valid_from", "valid_to")
MAX_PHOTO_CHARS = 200_000  # a card photo is ~1–3 KB of JPEG; base64 of far more is not a card


def _day(text: str) -> date | None:
    """A date field of the search form; the browser sends an empty one as ""."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _window(request: Request, ctx: Ctx, criteria: service.Criteria, values: dict | None = None,
            error: str = "", status_code: int = 200) -> Response:
    """The window page: the search and its records, the applicant and scope form."""
    searched = any(value for value in vars(criteria).values())
    found: list[Record] = []
    if searched:
        try:
            found = service.find_records(ctx.session, ctx.subject, criteria)
        except Refusal as exc:
            error = error or str(exc)
        ctx.audit("copy.find", object_type="record", detail={"条数": len(found)})
    current = rules.copy_rules(ctx.session)
    names = rules.category_names(ctx.session)
    copyable = rules.copyable_categories(ctx.session)
    response = page(
        request, "release/window.html", ctx, status_code=status_code, criteria=criteria, searched=searched,
        found=[_found(ctx, record) for record in found], error=error or request.query_params.get("error", ""),
        values=values or {}, kinds=rules.applicant_types(ctx.session), packages=rules.packages(ctx.session),
        categories=[(code, name, code in copyable) for code, name in names.items()],
        reader_url=current.card_reader_url, stage_copying=current.stage_copying,
        recent=service.requests(ctx.session, limit=20), statuses=service.STATUS_NAMES)
    response.headers["Content-Security-Policy"] = reader_policy(current.card_reader_url)
    return response


def reader_policy(reader_url: str) -> str:
    """The default policy, and the browser may also call the card-reader bridge on the clerk's PC."""
    url = urlsplit(reader_url)
    return f"{CONTENT_SECURITY_POLICY}; connect-src 'self' {url.scheme}://{url.netloc}"


def _found(ctx: Ctx, record: Record) -> dict:
    """A found record as the clerk sees it; a sealed one only as 已封存 (no number, no name)."""
    if record.sealed:
        return {"record": record, "sealed": True}
    stage = record.status != "archived"
    return {"record": record, "sealed": False, "stage": stage,
            "warnings": service.record_warnings(ctx.session, record, stage),
            "documents": service.documents_to_choose(ctx.session, record)}


@router.get(WINDOW, response_class=HTMLResponse)
def window(request: Request, id_number: str = "", name: str = "", record_number: str = "", admitted_from: str = "",
           admitted_to: str = "", discharged_from: str = "", discharged_to: str = "", department: str = "",
           ctx: Ctx = permission("copy.serve")) -> Response:
    criteria = service.Criteria(id_number[:30], name[:50], record_number[:32], _day(admitted_from), _day(admitted_to),
                                _day(discharged_from), _day(discharged_to), department[:100])
    return _window(request, ctx, criteria)


@router.post(WINDOW + "/requests")
def apply(request: Request, record_ids: list[int] = Form([]), applicant_type: str = Form("", max_length=32),
          applicant_name: str = Form("", max_length=50), applicant_id: str = Form("", max_length=30),
          phone: str = Form("", max_length=32), organisation: str = Form("", max_length=100),
          relation: str = Form("", max_length=50), card: str = Form("", max_length=4000),
          card_photo: str = Form("", max_length=MAX_PHOTO_CHARS), scope: str = Form("package", max_length=20),
          package: str = Form("", max_length=100), categories: list[str] = Form([]),
          page_docs: list[int] = Form([]), page_ranges: list[str] = Form([]),
          copies: int = Form(1, ge=1, le=service.MAX_COPIES), purpose: str = Form("", max_length=100),
          s_id_number: str = Form("", max_length=30), s_name: str = Form("", max_length=50),
          s_record_number: str = Form("", max_length=32), s_department: str = Form("", max_length=100),
          ctx: Ctx = permission("copy.serve")) -> Response:
    """复印登记 from the window's form; a refusal shows the page again with what was typed."""
    values = {"record_ids": record_ids, "applicant_type": applicant_type, "applicant_name": applicant_name,
              "applicant_id": applicant_id, "phone": phone, "organisation": organisation, "relation": relation,
              "scope": scope, "package": package, "categories": categories, "copies": copies, "purpose": purpose,
              "page_ranges": {document_id: text[:200] for document_id, text in zip(page_docs, page_ranges, strict=False)
                              if text.strip()}}
    criteria = service.Criteria(id_number=s_id_number, name=s_name, record_number=s_record_number,
                                department=s_department)
    try:
        copy_request = _create(request, ctx, values, card, card_photo)
    except Refusal as exc:
        ctx.session.rollback()  # a request made before its card photo was refused is not kept
        return _window(request, ctx, criteria, values, str(exc), status_code=400)
    return RedirectResponse(REQUEST_PAGE.format(copy_request_id=copy_request.id), status_code=303)


def _create(request: Request, ctx: Ctx, values: dict, card: str, card_photo: str):
    ids = [record_id for record_id in values["record_ids"] if 1 <= record_id <= MAX_ID]
    if not ids:
        raise Refusal("请在查找结果中勾选要复印的病案")
    records = [gate_record(ctx, "copy", load_record(ctx.session, record_id)).record for record_id in ids]
    form = service.CopyForm(
        applicant=service.Applicant(values["applicant_type"], values["applicant_name"], values["applicant_id"],
                                    values["phone"], values["organisation"], values["relation"], _card(card)),
        record_ids=ids, package=values["package"] if values["scope"] == "package" else "",
        categories=values["categories"] if values["scope"] == "categories" else None,
        pages=_pages(ctx, values["page_ranges"]) if values["scope"] == "pages" else None,
        copies=values["copies"], purpose=values["purpose"])
    copy_request = service.create_request(ctx.session, ctx.actor, ctx.user, records, form)
    photo = _photo(card_photo)
    if photo:  # the card's photo is the applicant's ID paper (申请人有效身份证明)
        service.add_paper(ctx.session, ctx.actor, ctx.user, open_blob_store(request.app.state.settings),
                          copy_request, service.ID_PHOTO, photo, "image/jpeg")
    return copy_request


def _pages(ctx: Ctx, typed: dict[int, str]) -> list[dict]:
    """The single pages typed per document (blank ones were left out) as the service's page choices."""
    chosen = {document_id: text for document_id, text in typed.items() if 1 <= document_id <= MAX_ID}
    if not chosen:
        raise Refusal("按页复印：请在所选病案的文书中填写要复印的页码（如 1-3,5，或“全部”）")
    titles = dict(ctx.session.execute(sa.select(Document.id, Document.title).where(Document.id.in_(chosen))).all())
    return [{"document_id": document_id, "pages": service.parse_pages(text, titles.get(document_id, str(document_id)))}
            for document_id, text in chosen.items()]


def _card(text: str) -> dict:
    """What the card reader gave (the page keeps it as JSON in a hidden field), photo excluded."""
    if not text.strip():
        return {}
    try:
        given = json.loads(text)
    except ValueError as exc:
        raise Refusal("读卡信息格式不正确，请重新读卡或手工录入") from exc
    if not isinstance(given, dict):
        raise Refusal("读卡信息格式不正确，请重新读卡或手工录入")
    return {key: str(given[key])[:100] for key in CARD_FIELDS if key in given}


def _photo(text: str) -> bytes:
    if not text.strip():
        return b""
    try:
        return base64.b64decode(text.split(",")[-1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refusal("身份证照片格式不正确，请重新读卡") from exc


# --- one request ---------------------------------------------------------------------------------

@router.get(REQUEST_PAGE, response_class=HTMLResponse)
def request_page(request: Request, copy_request_id: RowId, ctx: Ctx = permission("copy.serve")) -> Response:
    copy_request = service.get_request(ctx.session, copy_request_id)
    job = ctx.session.get(Job, copy_request.job_id) if copy_request.job_id else None
    ctx.audit("copy.view", object_type="copy_request", object_id=copy_request.id)
    view = service.as_json(ctx.session, copy_request)
    return page(request, "release/request.html", ctx, view=view, job=jobs.job_view(job) if job else None,
                papers=service.required_papers(ctx.session, copy_request),
                methods=service.PAYMENT_METHODS, error=request.query_params.get("error", ""),
                yuan=rules.yuan)


@router.post(REQUEST_PAGE + "/papers", dependencies=[back_on_refusal(REQUEST_PAGE)])
def add_paper(request: Request, copy_request_id: RowId, code: str = Form(..., max_length=32),
              file: UploadFile = File(...), ctx: Ctx = permission("copy.serve")) -> Response:
    copy_request = service.get_request(ctx.session, copy_request_id)
    service.add_paper(ctx.session, ctx.actor, ctx.user, open_blob_store(request.app.state.settings), copy_request,
                      code, file.file.read(service.MAX_PAPER_BYTES + 1), file.content_type or "")
    return _back(copy_request_id)


@router.post(REQUEST_PAGE + "/pay", dependencies=[back_on_refusal(REQUEST_PAGE)])
def pay(copy_request_id: RowId, method: str = Form(..., max_length=10), reference: str = Form("", max_length=64),
        ctx: Ctx = permission("copy.serve")) -> Response:
    service.pay(ctx.session, ctx.actor, ctx.user, service.get_request(ctx.session, copy_request_id), method, reference)
    return _back(copy_request_id)


@router.post(REQUEST_PAGE + "/print", dependencies=[back_on_refusal(REQUEST_PAGE)])
def print_copies(copy_request_id: RowId, ctx: Ctx = permission("copy.serve")) -> Response:
    service.start_print(ctx.session, ctx.actor, ctx.user, service.get_request(ctx.session, copy_request_id))
    return _back(copy_request_id)


@router.post(REQUEST_PAGE + "/refund", dependencies=[back_on_refusal(REQUEST_PAGE)])
def refund(copy_request_id: RowId, reason: str = Form("", max_length=500),
           ctx: Ctx = permission("copy.serve")) -> Response:
    service.refund(ctx.session, ctx.actor, ctx.user, service.get_request(ctx.session, copy_request_id), reason)
    return _back(copy_request_id)


@router.post(REQUEST_PAGE + "/cancel", dependencies=[back_on_refusal(REQUEST_PAGE)])
def cancel(copy_request_id: RowId, ctx: Ctx = permission("copy.serve")) -> Response:
    service.cancel(ctx.session, ctx.actor, service.get_request(ctx.session, copy_request_id))
    return _back(copy_request_id)


@router.get(REQUEST_PAGE + "/copy.pdf")
def copy_pdf(request: Request, copy_request_id: RowId, ctx: Ctx = permission("copy.serve")) -> Response:
    """The finished copy shown inline, so the page can hand it to the browser's print dialog."""
    copy_request = service.get_request(ctx.session, copy_request_id)
    job = ctx.session.get(Job, copy_request.job_id) if copy_request.job_id else None
    if job is None or job.state != "done" or not job.result_sha256:
        raise NotFound("复印件尚未生成")
    with open_blob_store(request.app.state.settings).open(job.result_sha256) as stream:
        data = stream.read()
    ctx.audit("copy.print_open", object_type="copy_request", object_id=copy_request.id,
              detail={"文件": job.result_name, "页数": copy_request.pages})
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(job.result_name)}",
        "Cache-Control": "private, no-store"})


def _back(copy_request_id: int) -> Response:
    return RedirectResponse(REQUEST_PAGE.format(copy_request_id=copy_request_id), status_code=303)
