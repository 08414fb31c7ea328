"""检索词典: the medical synonym and abbreviation groups the switch 同义词扩展 searches together.

Guarded by ``tags.manage`` (管理标签): the record room's vocabulary belongs to the archivists who
keep the tags and the category names, not to the system administrator (三员分立: the system
administrator runs the system and reads no records) nor to every clinician. Groups are checked by
``synonyms.check_group`` (two spellings at least, a spelling in one group only); every change is
audited.
"""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from bingan.errors import Refusal
from bingan.records import dictionary
from bingan.search.synonyms import check_group, split_terms
from bingan.storage.models import SynonymGroup
from bingan.web.admin.common import done
from bingan.web.deps import Ctx, permission
from bingan.web.errors import back_on_refusal
from bingan.web.inputs import RowId
from bingan.web.navigation import register
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
PATH = "/admin/synonyms"
MAX_TERMS_TEXT = 1000
register("病案查询", "检索词典", PATH, "tags.manage")


def _checked(ctx: Ctx, text: str, group_id: int | None = None) -> list[str]:
    terms = split_terms(text[:MAX_TERMS_TEXT])
    check_group(terms, [g.terms for g in dictionary.groups(ctx.session) if g.id != group_id])
    return terms


@router.get(PATH, response_class=HTMLResponse)
def synonyms_page(request: Request, ctx: Ctx = permission("tags.manage")) -> Response:
    return page(request, "admin/synonyms.html", ctx, groups=dictionary.groups(ctx.session),
                error=request.query_params.get("error", ""), message=request.query_params.get("message", ""))


@router.post(PATH, dependencies=[back_on_refusal(PATH)])
def synonym_group_add(terms: str = Form(""), ctx: Ctx = permission("tags.manage")) -> Response:
    group = SynonymGroup(terms=_checked(ctx, terms))
    ctx.session.add(group)
    ctx.session.flush()
    ctx.audit("settings", object_type="synonym_group", object_id=str(group.id),
              detail={"同义词": "、".join(group.terms)})
    return done(PATH, "已添加同义词组")


@router.post(PATH + "/{item_id}", dependencies=[back_on_refusal(PATH)])
def synonym_group_change(item_id: RowId, action: str = Form(...), terms: str = Form(""),
                         ctx: Ctx = permission("tags.manage")) -> Response:
    group = ctx.session.get(SynonymGroup, item_id)
    if group is None or action not in ("save", "delete"):
        raise Refusal("同义词组不存在或操作无效")
    before = "、".join(group.terms)
    if action == "delete":
        ctx.session.delete(group)
        ctx.audit("settings", object_type="synonym_group", object_id=str(item_id), detail={"删除": before})
        return done(PATH, "已删除同义词组")
    group.terms = _checked(ctx, terms, item_id)
    ctx.audit("settings", object_type="synonym_group", object_id=str(item_id),
              detail={"修改前": before, "修改后": "、".join(group.terms)})
    return done(PATH, "已保存同义词组")
