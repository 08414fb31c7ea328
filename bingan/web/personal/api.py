"""The JSON API of a user's own things: who am I (and the CSRF token), history, favourites, settings.

Browser sessions authenticate the API; unsafe methods need the X-CSRF-Token header, which
GET /api/v1/me returns.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from bingan import clock
from bingan.records import personal
from bingan.web.deps import Ctx, RecordAccess, record_gate, signed_in
from bingan.web.security import request_csrf_token

router = APIRouter(prefix="/api/v1", tags=["病案 API"])
FolderParam = Annotated[str | None, Query(max_length=64, description="收藏夹（空 = 未分类；不填 = 全部）")]
WordsParam = Annotated[str, Query(max_length=100, description="在备注或病案号中查找的文字")]


class Me(BaseModel):
    id: int
    username: str
    full_name: str
    roles: list[str]
    permissions: list[str]
    csrf_token: str


class FavouriteRequest(BaseModel):
    on: bool = True
    folder: str = Field("", max_length=64)
    note: str = Field("", max_length=255)


@router.get("/me", response_model=Me, summary="当前用户")
def me(request: Request, ctx: Ctx = signed_in()) -> Me:
    return Me(id=ctx.user.id, username=ctx.user.username, full_name=ctx.user.full_name,
              roles=[r.code for r in ctx.user.roles], permissions=sorted(ctx.subject.permissions),
              csrf_token=request_csrf_token(request))


@router.get("/history", summary="浏览历史（仅列出仍可查阅的病案；hidden 为因权限变化未列出的条数）")
def history(ctx: Ctx = signed_in()) -> dict:
    rows, hidden = personal.openable(ctx.subject, personal.history(ctx.session, ctx.user))
    return {"records": [{"record_id": r.id, "record_number": r.record_number, "stay": r.stay_number,
                         "viewed_at": clock.iso(entry.viewed_at)} for entry, r in rows], "hidden": hidden}


@router.get("/favourites", summary="收藏夹（仅列出仍可查阅的病案；hidden 为因权限变化未列出的条数）")
def favourites(folder: FolderParam = None, q: WordsParam = "", ctx: Ctx = signed_in()) -> dict:
    rows, hidden = personal.openable(ctx.subject, personal.favourites(ctx.session, ctx.user, folder, q))
    return {"records": [{"record_id": r.id, "record_number": r.record_number, "stay": r.stay_number,
                         "folder": f.folder, "note": f.note} for f, r in rows], "hidden": hidden}


@router.put("/records/{record_id}/favourite", summary="收藏或取消收藏")
def favourite(body: FavouriteRequest, access: RecordAccess = record_gate("view")) -> dict:
    ctx = access.ctx
    personal.set_favourite(ctx.session, ctx.user, access.record.id, body.on, body.folder, body.note)
    ctx.audit("favourite", object_type="record", object_id=access.record.id, record_id=access.record.id,
              detail={"收藏": body.on})
    return {"record_id": access.record.id, "favourite": body.on}


@router.get("/settings", summary="个人设置")
def get_settings(ctx: Ctx = signed_in()) -> dict:
    return vars(personal.preferences(ctx.user))
