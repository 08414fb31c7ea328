"""Collection devices in the JSON API (单机采集): list and register devices, rotate or revoke
their push keys, read a device's collection log (``GET /api/v1/devices/{id}/log?from=&to=``)
or the log of every device by address."""
from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from bingan.clock import iso
from bingan.ingest import devices
from bingan.storage.models.devices import Device
from bingan.web.deps import Ctx, permission
from bingan.web.inputs import RowId

router = APIRouter(prefix="/api/v1", tags=["单机采集"])
RULE = "system.settings"


def device_json(row: Device) -> dict:
    return {"id": row.id, "code": row.source.name, "name": row.source.title, "kind": row.source.kind,
            "ip": row.ip, "department": row.department.name if row.department else None,
            "default_document_type": (row.source.fallback_document_type.code
                                      if row.source.fallback_document_type else None),
            "has_key": bool(row.source.api_key_hash), "signed_by": _signed_by(row),
            "fingerprint": devices.fingerprint(row), "last_seen_at": iso(row.last_seen_at), "last_ip": row.last_ip}


def _signed_by(row: Device) -> str | None:
    if row.certificate:
        return "certificate"
    return "key" if row.public_key else None


class DeviceBody(BaseModel):
    code: str = Field(..., max_length=48, description="设备代码（也是其推送来源的名称），如 ecg-cart-03")
    name: str = Field(..., max_length=100, description="设备名称，如 心电图机（3号车）")
    ip: str = Field("", max_length=45)
    department_id: int | None = Field(None, ge=1, le=2**31 - 1)
    document_type_id: int | None = Field(None, ge=1, le=2**31 - 1, description="默认文书类型（文件名未给出时）")
    kind: str = Field("other", max_length=16)
    public_key: str = Field("", max_length=8000, description="bingan-agent key 输出的 PEM 公钥")
    certificate: str = Field("", max_length=16000, description="医院签发的 PEM 证书（有证书时以证书验签）")


@router.get("/devices", summary="采集设备列表")
def list_devices(ctx: Ctx = permission(RULE)) -> dict:
    return {"devices": [device_json(row) for row in devices.devices(ctx.session)]}


@router.post("/devices", status_code=201, summary="登记采集设备：推送密钥只在此应答中出现一次")
def create_device(body: DeviceBody, ctx: Ctx = permission(RULE)) -> dict:
    form = devices.DeviceForm(name=body.name, ip=body.ip, department_id=body.department_id,
                              document_type_id=body.document_type_id, kind=body.kind, public_key=body.public_key,
                              certificate=body.certificate)
    row, key = devices.register(ctx.session, ctx.actor, body.code, form)
    ctx.session.flush()
    return {**device_json(row), "push_key": key}


@router.get("/devices/log", summary="全部设备的采集日志：按来访地址（可为前缀）与时间范围检索")
def all_log(ip: str = Query("", max_length=45), since: str = Query("", alias="from", max_length=40),
            until: str = Query("", alias="to", max_length=40), ctx: Ctx = permission(RULE)) -> dict:
    start, end = devices.time_range(since, until)
    return {"uploads": [devices.upload_json(row) for row in devices.upload_log(ctx.session, ip=ip, since=start,
                                                                                until=end)]}


@router.get("/devices/{device_id}/log", summary="一台设备的采集日志：from、to 为时间范围（含 to 当天）")
def device_log(device_id: RowId, since: str = Query("", alias="from", max_length=40),
               until: str = Query("", alias="to", max_length=40), ctx: Ctx = permission(RULE)) -> dict:
    row = devices.device(ctx.session, device_id)
    start, end = devices.time_range(since, until)
    rows = devices.upload_log(ctx.session, device_id=row.id, since=start, until=end)
    return {"device": device_json(row), "uploads": [devices.upload_json(entry) for entry in rows]}


@router.post("/devices/{device_id}/key/rotate", summary="更换设备推送密钥：旧密钥立即失效，新密钥只出现一次")
def rotate_key(device_id: RowId, ctx: Ctx = permission(RULE)) -> dict:
    row, key = devices.rotate_key(ctx.session, ctx.actor, device_id)
    return {**device_json(row), "push_key": key}


@router.post("/devices/{device_id}/key/revoke", summary="吊销设备推送密钥")
def revoke_key(device_id: RowId, ctx: Ctx = permission(RULE)) -> dict:
    return device_json(devices.revoke_key(ctx.session, ctx.actor, device_id))
