"""Collection devices pages (采集设备, B2–B3): register a device PC with its address, department,
default document type and public key or certificate; its push key shown once, rotated, revoked;
the collection log searched by address and time range."""
from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.ingest import devices
from bingan.storage.models import Department, DocumentType
from bingan.web import navigation
from bingan.web.deps import Ctx, permission
from bingan.web.errors import back_on_refusal
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
PATH = "/admin/devices"
navigation.register("采集监控", "采集设备", PATH, "system.settings")


def _choices(ctx: Ctx) -> dict:
    session = ctx.session
    return {"departments": session.scalars(sa.select(Department).where(Department.active)
                                           .order_by(Department.code)).all(),
            "document_types": session.scalars(sa.select(DocumentType).where(DocumentType.active)
                                              .order_by(DocumentType.code)).all(),
            "kinds": devices.DEVICE_KINDS, "outcomes": devices.OUTCOME_NAMES}


def _form(name: str, ip: str, department_id: str, document_type_id: str, kind: str, public_key: str,
          certificate: str) -> devices.DeviceForm:
    return devices.DeviceForm(name=name, ip=ip, department_id=_id(department_id),
                              document_type_id=_id(document_type_id), kind=kind, public_key=public_key,
                              certificate=certificate)


def _id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def _error(request: Request) -> str:
    """A refused form comes back here with the reason (back_on_refusal)."""
    return request.query_params.get("error", "")[:500]


def _listing(request: Request, ctx: Ctx, ip: str = "", since: str = "", until: str = "", **shown: object) -> Response:
    start, end = devices.time_range(since, until)
    rows = devices.upload_log(ctx.session, ip=ip, since=start, until=end)
    named = {row.id: row for row in devices.devices(ctx.session)}
    return page(request, "devices/index.html", ctx, devices=list(named.values()), named=named, log=rows,
                ip=ip, since=since, until=until, fingerprint=devices.fingerprint, error=_error(request),
                **_choices(ctx), **shown)


@router.get(PATH, response_class=HTMLResponse)
def devices_page(request: Request, ip: str = Query("", max_length=45), since: str = Query("", max_length=40),
                 until: str = Query("", max_length=40), ctx: Ctx = permission("system.settings")) -> Response:
    return _listing(request, ctx, ip, since, until)


@router.post(PATH, response_class=HTMLResponse, dependencies=[back_on_refusal(PATH)])
def device_create(request: Request, code: str = Form("", max_length=48), name: str = Form("", max_length=100),
                  ip: str = Form("", max_length=45), department_id: str = Form("", max_length=10),
                  document_type_id: str = Form("", max_length=10), kind: str = Form("other", max_length=16),
                  public_key: str = Form("", max_length=8000), certificate: str = Form("", max_length=16000),
                  ctx: Ctx = permission("system.settings")) -> Response:
    form = _form(name, ip, department_id, document_type_id, kind, public_key, certificate)
    row, key = devices.register(ctx.session, ctx.actor, code, form)
    return _listing(request, ctx, new_key=key, keyed=row)


@router.get(PATH + "/{device_id}", response_class=HTMLResponse)
def device_page(request: Request, device_id: RowId, since: str = Query("", max_length=40),
                until: str = Query("", max_length=40), ctx: Ctx = permission("system.settings")) -> Response:
    return _device(request, ctx, device_id, since, until)


def _device(request: Request, ctx: Ctx, device_id: int, since: str = "", until: str = "", **shown: object) -> Response:
    row = devices.device(ctx.session, device_id)
    start, end = devices.time_range(since, until)
    log = devices.upload_log(ctx.session, device_id=row.id, since=start, until=end)
    return page(request, "devices/device.html", ctx, device=row, log=log, since=since, until=until,
                fingerprint=devices.fingerprint(row), error=_error(request), **_choices(ctx), **shown)


@router.post(PATH + "/{device_id}", response_class=HTMLResponse, dependencies=[back_on_refusal(PATH + "/{device_id}")])
def device_update(device_id: RowId, name: str = Form("", max_length=100), ip: str = Form("", max_length=45),
                  department_id: str = Form("", max_length=10), document_type_id: str = Form("", max_length=10),
                  kind: str = Form("other", max_length=16), public_key: str = Form("", max_length=8000),
                  certificate: str = Form("", max_length=16000), ctx: Ctx = permission("system.settings")) -> Response:
    form = _form(name, ip, department_id, document_type_id, kind, public_key, certificate)
    devices.update(ctx.session, ctx.actor, device_id, form)
    return RedirectResponse(f"{PATH}/{device_id}", status_code=303)


@router.post(PATH + "/{device_id}/key/rotate", response_class=HTMLResponse)
def device_rotate(request: Request, device_id: RowId, ctx: Ctx = permission("system.settings")) -> Response:
    row, key = devices.rotate_key(ctx.session, ctx.actor, device_id)
    return _device(request, ctx, row.id, new_key=key)


@router.post(PATH + "/{device_id}/key/revoke")
def device_revoke(device_id: RowId, ctx: Ctx = permission("system.settings")) -> Response:
    devices.revoke_key(ctx.session, ctx.actor, device_id)
    return RedirectResponse(f"{PATH}/{device_id}", status_code=303)
