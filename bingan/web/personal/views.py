"""Pages for a user's own lists and settings: history, favourites, tags, personal settings."""
from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.errors import Refusal
from bingan.records import personal, tags
from bingan.storage.models import Category
from bingan.storage.models.records import DEFAULT_TAG_COLOR
from bingan.web.deps import Ctx, RecordAccess, _gate, load_record, permission, record_gate, signed_in
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/history", response_class=HTMLResponse)
def history_page(request: Request, ctx: Ctx = signed_in()) -> Response:
    rows, hidden = personal.openable(ctx.subject, personal.history(ctx.session, ctx.user, limit=100))
    return page(request, "personal/history.html", ctx, rows=rows, hidden=hidden)


@router.post("/history/clear")
def history_clear(ctx: Ctx = signed_in()) -> Response:
    personal.clear_history(ctx.session, ctx.user)
    return RedirectResponse("/history", status_code=303)


@router.get("/favourites", response_class=HTMLResponse)
def favourites_page(request: Request, ctx: Ctx = signed_in()) -> Response:
    folder = request.query_params.get("folder")  # absent = every folder, "" = 未分类
    text = request.query_params.get("q", "")
    rows, hidden = personal.openable(ctx.subject, personal.favourites(ctx.session, ctx.user, folder, text))
    return page(request, "personal/favourites.html", ctx, rows=rows, hidden=hidden, folder=folder, text=text,
                folders=personal.folders(ctx.session, ctx.user))


@router.post("/records/{record_id}/favourite", response_class=HTMLResponse)
def favourite_toggle(
    request: Request, on: bool = Form(True), folder: str = Form(""), note: str = Form(""), back: str = Form(""),
    access: RecordAccess = record_gate("view"),
) -> Response:
    ctx = access.ctx
    personal.set_favourite(ctx.session, ctx.user, access.record.id, on, folder, note)
    ctx.audit("favourite", object_type="record", object_id=access.record.id, record_id=access.record.id,
              detail={"收藏": on})
    if request.headers.get("hx-request"):
        favourite = personal.favourite_of(ctx.session, ctx.user, access.record.id)
        return page(request, "records/_favourite.html", ctx, record=access.record, favourite=favourite,
                    folders=personal.folders(ctx.session, ctx.user))
    if back == "/favourites" or back.startswith("/favourites?"):  # edited on the favourites page: back to it
        return RedirectResponse(back, status_code=303)
    return RedirectResponse(f"/records/{access.record.id}", status_code=303)


def _tag_gate(record_id: RowId, remove: str = Form(""), ctx: Ctx = signed_in()) -> RecordAccess:
    """The gate for tagging. Who may apply a tag may remove it: a restricted tag hides the record
    from its holder once applied, so the tag being removed does not count against them."""
    record = load_record(ctx.session, record_id)
    found = tags.tag_named(ctx.session, remove) if remove else None
    if found is not None and found in record.tags and tags.may_apply(ctx.subject.permissions, found):
        subject = replace(ctx.subject, denied_tags=ctx.subject.denied_tags - {found.name})
        return _gate(replace(ctx, _subject=subject), "tag", record, None)
    return _gate(ctx, "tag", record, None)


_tag_gate.__rule__ = ("record", "tag")  # type: ignore[attr-defined]


@router.post("/records/{record_id}/tags", response_class=HTMLResponse)
def record_tags(tag: str = Form(""), remove: str = Form(""), access: RecordAccess = Depends(_tag_gate)) -> Response:
    ctx, record = access.ctx, access.record
    if remove:
        tags.remove(ctx.session, ctx.actor, ctx.subject.permissions, record, remove)
    else:
        tags.apply(ctx.session, ctx.actor, ctx.subject.permissions, record, tag)
    return RedirectResponse(f"/records/{record.id}", status_code=303)


@router.get("/tags", response_class=HTMLResponse)
def tags_page(request: Request, ctx: Ctx = signed_in()) -> Response:
    return _tags(request, ctx, error="")


def _tags(request: Request, ctx: Ctx, error: str, status: int = 200) -> Response:
    return page(request, "personal/tags.html", ctx, status_code=status, tags=tags.all_tags(ctx.session), error=error,
                can_manage=ctx.can(tags.MANAGE), can_search=ctx.can("search.use"))


@router.post("/tags")
def tags_create(
    request: Request, name: str = Form(...), color: str = Form(DEFAULT_TAG_COLOR), restricted: bool = Form(False),
    description: str = Form(""), ctx: Ctx = permission(tags.MANAGE),
) -> Response:
    try:
        tags.create(ctx.session, ctx.actor, name, color, restricted, description)
    except Refusal as refusal:
        return _tags(request, ctx, refusal.message, status=400)
    return RedirectResponse("/tags", status_code=303)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, ctx: Ctx = signed_in()) -> Response:
    return _settings(request, ctx, [], saved=request.query_params.get("saved") == "1")


def _settings(request: Request, ctx: Ctx, problems: list[str], saved: bool = False, status: int = 200) -> Response:
    categories = ctx.session.scalars(sa.select(Category).order_by(Category.filing_order)).all()
    return page(request, "personal/settings.html", ctx, status_code=status, prefs=personal.preferences(ctx.user),
                categories=categories, problems=problems, saved=saved, per_page_choices=personal.PER_PAGE_CHOICES,
                sort_choices=personal.SORT_CHOICES, start_pages=personal.START_PAGES)


@router.post("/settings")
async def settings_save(request: Request, ctx: Ctx = signed_in()) -> Response:
    form = await request.form()
    prefs = personal.Preferences(
        start_page=str(form.get("start_page", "/")), per_page=_int(form.get("per_page", "20")),
        sort=str(form.get("sort", "relevance")), hidden_categories=[str(v) for v in form.getlist("hidden")],
        print_duplex=form.get("print_duplex") == "on", print_copies=_int(form.get("print_copies", "1")),
    )
    problems = personal.save_preferences(ctx.session, ctx.user, prefs)
    if problems:
        return _settings(request, ctx, problems, status=400)
    ctx.audit("settings", object_type="user", object_id=ctx.user.id)
    return RedirectResponse("/settings?saved=1", status_code=303)


def _int(value: object) -> int | None:
    """None for anything but a plain integer: the setting is then refused, never defaulted."""
    try:
        return int(str(value))
    except ValueError:
        return None
