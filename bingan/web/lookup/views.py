"""Bulk record-number lookup (Z1): paste or upload, found and missing lists, xlsx export.

Found records the user may not open are reported as found but without a link, name or date:
the existence of a record number is not patient data, its contents are. The export holds the
rows the page shows (``shown_rows``) and needs the export permission.
"""
from __future__ import annotations

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from bingan import clock
from bingan.web.deps import Ctx, Refused, permission
from bingan.web.lookup.service import (
    LookupInputError,
    check_count,
    export_xlsx,
    numbers_from_text,
    numbers_from_upload,
    run_lookup,
    shown_rows,
)
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/lookup", response_class=HTMLResponse)
def lookup_form(request: Request, ctx: Ctx = permission("lookup.use")) -> Response:
    return _form(request, ctx, result=None, rows=[], text="", error="")


async def _numbers(text: str, upload: UploadFile | None) -> list[str]:
    numbers = numbers_from_text(text)
    if upload is not None and upload.filename:
        numbers += numbers_from_upload(upload.filename, await upload.read())
    check_count(numbers)
    return numbers


def _form(request: Request, ctx: Ctx, **shown) -> Response:
    return page(request, "lookup/lookup.html", ctx, can_export=ctx.can("record.export"), **shown)


@router.post("/lookup", response_class=HTMLResponse)
async def lookup_submit(
    request: Request, text: str = Form(""), file: UploadFile | None = File(None), ctx: Ctx = permission("lookup.use"),
) -> Response:
    try:
        numbers = await _numbers(text, file)
    except LookupInputError as error:
        return _form(request, ctx, status_code=400, result=None, rows=[], text=text, error=str(error))
    result, openable = run_lookup(ctx, numbers)
    return _form(request, ctx, result=result, rows=shown_rows(result, openable), text=text, error="")


@router.post("/lookup/export")
async def lookup_export(
    request: Request, text: str = Form(""), file: UploadFile | None = File(None),
    ctx: Ctx = permission("record.export"),
) -> Response:
    if not ctx.can("lookup.use"):
        raise Refused("您没有批量查询病案号的权限")
    try:
        numbers = await _numbers(text, file)
    except LookupInputError as error:
        return _form(request, ctx, status_code=400, result=None, rows=[], text=text, error=str(error))
    result, openable = run_lookup(ctx, numbers)
    rows = shown_rows(result, openable)
    ctx.audit("export", object_type="lookup", detail={"行数": len(numbers), "可查阅病案": len(openable)})
    return Response(export_xlsx(rows, result.missing), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="lookup-{clock.file_stamp()}.xlsx"'})
