"""The share-link JSON API (限时分享链接, F3): make a link for chosen categories of a record, list a
record's links, one link with its openings, revoke. The recipient opens ``url`` (shown once)."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from bingan.records.release import share_links
from bingan.web.deps import Ctx, RecordAccess, gate_record, load_record, permission, record_gate
from bingan.web.inputs import MAX_ID, RowId

router = APIRouter(prefix="/api/v1", tags=["分享链接"])


class ShareLinkBody(BaseModel):
    record_id: int = Field(..., ge=1, le=MAX_ID)
    categories: list[str] | None = Field(None, max_length=100, description="病案分类代码或名称；缺省为全部可导出的文书")
    expires_at: datetime = Field(..., description="有效期至（ISO 8601；不带时区时按医院本地时间），最长 90 天")
    max_views: int = Field(..., ge=1, le=share_links.MAX_VIEWS, description="可打开次数")
    recipient: str = Field(..., min_length=1, max_length=50, description="接收人（姓名或单位），显示在每一页上")
    purpose: str = Field("", max_length=100, description="分享用途，如 外院会诊")


@router.post("/share-links", status_code=201, summary="创建限时分享链接（接收人、分类、有效期、可打开次数）")
def create(request: Request, body: ShareLinkBody, ctx: Ctx = permission("record.export")) -> dict:
    record = gate_record(ctx, "export", load_record(ctx.session, body.record_id)).record
    form = share_links.ShareForm(body.recipient, body.expires_at, body.max_views, body.categories, body.purpose)
    link, token = share_links.create_link(ctx.session, ctx.actor, ctx.user, ctx.subject, record, form)
    return share_links.as_json(ctx.session, link, url=share_links.address(ctx.session, token, str(request.base_url)))


@router.get("/share-links/{share_link_id}", summary="一个分享链接：状态、已打开次数、每次打开的地址与时间")
def one(share_link_id: RowId, ctx: Ctx = permission("record.export")) -> dict:
    link = share_links.get_link(ctx.session, share_link_id)
    gate_record(ctx, "export", load_record(ctx.session, link.record_id))
    ctx.audit("share_link.view", object_type="share_link", object_id=link.id, record_id=link.record_id)
    return share_links.as_json(ctx.session, link, with_openings=True)


@router.post("/share-links/{share_link_id}/revoke", summary="撤销分享链接（立即失效）")
def revoke(share_link_id: RowId, ctx: Ctx = permission("record.export")) -> dict:
    link = share_links.get_link(ctx.session, share_link_id)
    gate_record(ctx, "export", load_record(ctx.session, link.record_id))
    share_links.revoke(ctx.session, ctx.actor, ctx.user, link)
    return share_links.as_json(ctx.session, link, with_openings=True)


@router.get("/records/{record_id}/share-links", summary="病案的分享链接")
def of_record(access: RecordAccess = record_gate("export")) -> dict:
    links = share_links.links_of(access.ctx.session, access.record.id)
    access.ctx.audit("share_link.list", object_type="record", object_id=access.record.id, record_id=access.record.id)
    return {"record_id": access.record.id, "count": len(links),
            "items": [share_links.as_json(access.ctx.session, link) for link in links]}
