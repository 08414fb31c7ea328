"""终末质控 pages: scoring standards (versions, thresholds, xlsx download and import with a preview),
sampling tasks with their progress, the scoring screen (the record's documents and page viewer
beside the scoring table, proposals to accept or dismiss, manual deductions), and the final-QC
records list with its xlsx export."""
from __future__ import annotations

import json
import re
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan import clock
from bingan.errors import Refusal
from bingan.formats.spreadsheet import Spreadsheet
from bingan.records.qc.screen import documents_in_filing_order
from bingan.records.scoring import finals, rules, service, standards, tasks
from bingan.storage.models import Department
from bingan.web import navigation
from bingan.web.deps import Ctx, gate_record, permission
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
MANAGE, REVIEW = "scoring.manage", "scoring.review"
TASKS_PATH, FINALS_PATH, STANDARDS_PATH = "/scoring/tasks", "/scoring/finals", "/scoring/standards"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
navigation.register("终末质控", "抽查任务", TASKS_PATH, REVIEW)
navigation.register("终末质控", "终末质控病历", FINALS_PATH, REVIEW)
navigation.register("终末质控", "评分标准", STANDARDS_PATH, MANAGE)


def _download(data: bytes, name: str) -> Response:
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                    "Cache-Control": "no-store"})


# --- standards ----------------------------------------------------------------------------------

@router.get(STANDARDS_PATH, response_class=HTMLResponse)
def standards_page(request: Request, ctx: Ctx = permission(MANAGE)) -> Response:
    return page(request, "scoring/standards.html", ctx, rows=standards.listing(ctx.session))


@router.get(STANDARDS_PATH + "/import", response_class=HTMLResponse)
def import_page(request: Request, ctx: Ctx = permission(MANAGE)) -> Response:
    return page(request, "scoring/import.html", ctx, preview=None, error="", headers=standards.HEADERS)


@router.post(STANDARDS_PATH + "/import/preview", response_class=HTMLResponse)
async def import_preview(request: Request, file: UploadFile = File(...), name: str = Form("", max_length=100),
                         ctx: Ctx = permission(MANAGE)) -> Response:
    data = await file.read(standards.MAX_XLSX_BYTES + 1)
    try:
        preview = standards.read_xlsx(data, name)
    except Refusal as refusal:
        return page(request, "scoring/import.html", ctx, preview=None, error=refusal.message,
                    headers=standards.HEADERS, status_code=400)
    payload = json.dumps(preview.as_json(), ensure_ascii=False)
    return page(request, "scoring/import.html", ctx, preview=preview, payload=payload, error="",
                headers=standards.HEADERS, vetoes=rules.VETO_MODES)


@router.post(STANDARDS_PATH + "/import")
def import_save(name: str = Form(..., max_length=100), payload: str = Form(..., max_length=2_000_000),
                ctx: Ctx = permission(MANAGE)) -> Response:
    try:
        data = json.loads(payload)
    except ValueError:
        raise Refusal("预览内容已损坏，请重新上传文件") from None
    if not isinstance(data, dict):
        raise Refusal("预览内容已损坏，请重新上传文件")
    saved = standards.save_version(ctx.session, ctx.actor, ctx.user, name, data.get("sections"),
                                   data.get("thresholds"), origin="import", note="xlsx 导入")
    return RedirectResponse(f"{STANDARDS_PATH}/{saved.id}", status_code=303)


@router.get(STANDARDS_PATH + "/{standard_id}", response_class=HTMLResponse)
def standard_page(request: Request, standard_id: RowId, ctx: Ctx = permission(MANAGE)) -> Response:
    row = standards.get(ctx.session, standard_id)
    return page(request, "scoring/standard.html", ctx, row=row, standard=standards.standard_of(row),
                vetoes=rules.VETO_MODES)


@router.get(STANDARDS_PATH + "/{standard_id}/xlsx")
def standard_xlsx(standard_id: RowId, ctx: Ctx = permission(MANAGE)) -> Response:
    row = standards.get(ctx.session, standard_id)
    ctx.audit("export", object_type="scoring_standard", object_id=row.id, detail={"导出": "评分标准",
                                                                                 "版本": row.version})
    return _download(standards.write_xlsx(row), f"scoring-standard-v{row.version}.xlsx")


@router.post(STANDARDS_PATH + "/{standard_id}/thresholds")
def thresholds_form(standard_id: RowId, first: float = Form(..., ge=0, le=1000), second: float = Form(..., ge=0,
                                                                                                        le=1000),
                    ctx: Ctx = permission(MANAGE)) -> Response:
    saved = standards.edit_thresholds(ctx.session, ctx.actor, ctx.user, standard_id, first, second)
    return RedirectResponse(f"{STANDARDS_PATH}/{saved.id}", status_code=303)


EDIT_PATH = STANDARDS_PATH + "/{id}/edit"
EDIT_BYTES = 1024 * 1024  # 400 items of up to 500 Chinese characters, percent-encoded
ITEM_FIELDS = ("text", "deduction", "max_times", "cap", "veto", "veto_points", "check")
BLANK_ITEMS, BLANK_SECTIONS = 2, 1  # empty rows offered for adding


@router.get(EDIT_PATH.replace("{id}", "{standard_id}"), response_class=HTMLResponse)
def edit_page(request: Request, standard_id: RowId, ctx: Ctx = permission(MANAGE)) -> Response:
    row = standards.get(ctx.session, standard_id)
    sections, _ = rules.as_json(standards.standard_of(row))
    return _edit_form(request, ctx, row, sections)


@router.post(EDIT_PATH.replace("{id}", "{standard_id}"), response_class=HTMLResponse)
async def edit_save(request: Request, standard_id: RowId, ctx: Ctx = permission(MANAGE)) -> Response:
    row = standards.get(ctx.session, standard_id)
    sections = sections_from_form(await request.form())
    try:
        saved = standards.edit_table(ctx.session, ctx.actor, ctx.user, standard_id, sections)
    except Refusal as refusal:
        return _edit_form(request, ctx, row, sections, error=refusal.message, status_code=400)
    return RedirectResponse(f"{STANDARDS_PATH}/{saved.id}", status_code=303)


def _edit_form(request: Request, ctx: Ctx, row, sections: list, error: str = "", status_code: int = 200) -> Response:
    shown = [{**section, "items": [*section["items"], *({} for _ in range(BLANK_ITEMS))]} for section in sections]
    shown += [{"name": "", "points": "", "items": [{} for _ in range(BLANK_ITEMS + 1)]}
              for _ in range(BLANK_SECTIONS)]
    return page(request, "scoring/edit.html", ctx, row=row, sections=shown, vetoes=rules.VETO_MODES, error=error,
                status_code=status_code)


FIELD = re.compile(r"s(\d+)-(?:i(\d+)-)?([a-z_]+)")


def sections_from_form(form) -> list[dict]:
    """The table as posted (``s3-name``, ``s3-i2-text``…) in the order shown; a row whose 评分内容 is
    empty is dropped (that is how an item is deleted), and a section without a name or items too."""
    posted: dict[int, dict] = {}
    for key, value in form.multi_items():
        found = FIELD.fullmatch(key)
        if found is None:
            continue
        section, item, name = int(found[1]), found[2], found[3]
        fields = posted.setdefault(section, {"items": {}})
        (fields["items"].setdefault(int(item), {}) if item else fields)[name] = str(value).strip()
    sections = []
    for _, fields in sorted(posted.items()):
        items = [_item(row) for _, row in sorted(fields["items"].items()) if row.get("text")]
        if fields.get("name") or items:
            sections.append({"name": fields.get("name", ""), "points": fields.get("points", ""), "items": items})
    return sections


def _item(row: dict) -> dict:
    item = {name: row.get(name, "") for name in ITEM_FIELDS}
    times = item["max_times"]
    item["max_times"] = int(times) if times.isdigit() else (times or None)  # else: refused by the rules
    return item


@router.post(STANDARDS_PATH + "/{standard_id}/current")
def current_form(standard_id: RowId, ctx: Ctx = permission(MANAGE)) -> Response:
    standards.make_current(ctx.session, ctx.actor, standard_id)
    return RedirectResponse(STANDARDS_PATH, status_code=303)


# --- tasks --------------------------------------------------------------------------------------

@router.get(TASKS_PATH, response_class=HTMLResponse)
def tasks_page(request: Request, ctx: Ctx = permission(REVIEW)) -> Response:
    manage = ctx.can(MANAGE)
    departments = ctx.session.query(Department).order_by(Department.code).all() if manage else []
    return page(request, "scoring/tasks.html", ctx, rows=tasks.listing(ctx.session), manage=manage,
                departments=departments, reviewers=tasks.eligible_reviewers(ctx.session) if manage else [],
                kinds=tasks.KINDS, month=f"{clock.now():%Y-%m}")


def _optional_number(text: str, kind: type) -> float | int | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise Refusal(f"“{text[:20]}”不是有效的数字") from None


@router.post(TASKS_PATH)
def task_create(name: str = Form("", max_length=100), month: str = Form("", max_length=7),
                departments: list[str] = Form(default_factory=list), kind: str = Form("", max_length=16),
                percent: str = Form("", max_length=8), count: str = Form("", max_length=8),
                seed: str = Form("", max_length=12), reviewer_ids: list[int] = Form(default_factory=list),
                ctx: Ctx = permission(MANAGE)) -> Response:
    rule = tasks.checked_rule(month, departments[:200], kind, "inpatient", _optional_number(percent, float),
                              _optional_number(count, int))
    task = tasks.create(ctx.session, ctx.actor, ctx.user, name, rule, reviewer_ids[:100],
                        seed=_optional_number(seed, int))
    return RedirectResponse(f"{TASKS_PATH}/{task.id}", status_code=303)


@router.get(TASKS_PATH + "/{task_id}", response_class=HTMLResponse)
def task_page(request: Request, task_id: RowId, mine: int = Query(0, ge=0, le=1),
              ctx: Ctx = permission(REVIEW)) -> Response:
    task = tasks.get(ctx.session, task_id)
    found = tasks.entries(ctx.session, task, ctx.user.id if mine else None)
    return page(request, "scoring/task.html", ctx, task=task, entries=found, mine=mine,
                progress=tasks.progress(ctx.session, task), manage=ctx.can(MANAGE), kinds=tasks.KINDS)


@router.post(TASKS_PATH + "/{task_id}/close")
def task_close(task_id: RowId, ctx: Ctx = permission(MANAGE)) -> Response:
    tasks.close(ctx.session, ctx.actor, tasks.get(ctx.session, task_id))
    return RedirectResponse(f"{TASKS_PATH}/{task_id}", status_code=303)


# --- the scoring screen ---------------------------------------------------------------------------

def _screen_path(task_id: int, record_id: int, doc: int = 0, number: int = 1) -> str:
    return f"{TASKS_PATH}/{task_id}/records/{record_id}" + (f"?doc={doc}&page={number}" if doc else "")


@router.get(TASKS_PATH + "/{task_id}/records/{record_id}", response_class=HTMLResponse)
def score_screen(request: Request, task_id: RowId, record_id: RowId, doc: int = Query(0, ge=0, le=2**31 - 1),
                 number: int = Query(1, alias="page", ge=1, le=100_000), ctx: Ctx = permission(REVIEW)) -> Response:
    assignment = tasks.assignment(ctx.session, task_id, record_id)
    record = gate_record(ctx, "view", assignment.record).record
    entries = documents_in_filing_order(ctx.session, ctx.subject, record)
    current = next((e for e in entries if e.document.id == doc), entries[0] if entries else None)
    number = min(number, max(current.version.page_count, 1)) if current else 1
    score = service.score_of(ctx.session, assignment)
    standard = standards.standard_of(score.standard if score else assignment.task.standard)
    outcome = service.outcome_of(score) if score else None
    mine = assignment.reviewer_id == ctx.user.id
    response = page(request, "scoring/screen.html", ctx, task=assignment.task, assignment=assignment, record=record,
                    entries=entries, current=current, number=number, score=score, standard=standard,
                    outcome=outcome, editable=mine and (score is None or score.status == "draft"),
                    sources=service.SOURCE_NAMES, states=service.STATE_NAMES, vetoes=rules.VETO_MODES,
                    documents={e.document.id: e.name for e in entries})
    ctx.audit("view", object_type="record", object_id=record.id, record_id=record.id, detail={"界面": "终末质控评分"})
    return response


def _scored(ctx: Ctx, task_id: int, record_id: int):
    assignment = tasks.assignment(ctx.session, task_id, record_id)
    gate_record(ctx, "view", assignment.record)
    score = service.score_of(ctx.session, assignment)
    if score is None:
        raise Refusal("请先开始评分")
    return score


@router.post(TASKS_PATH + "/{task_id}/records/{record_id}/open")
def score_open(task_id: RowId, record_id: RowId, ctx: Ctx = permission(REVIEW)) -> Response:
    assignment = tasks.assignment(ctx.session, task_id, record_id)
    gate_record(ctx, "view", assignment.record)
    service.open_score(ctx.session, ctx.actor, ctx.user, assignment)
    return RedirectResponse(_screen_path(task_id, record_id), status_code=303)


@router.post(TASKS_PATH + "/{task_id}/records/{record_id}/deductions")
def deduction_add(task_id: RowId, record_id: RowId, item_code: str = Form("", max_length=32),
                  times: int = Form(1, ge=1, le=service.MAX_TIMES), document_id: int = Form(0, ge=0, le=2**31 - 1),
                  page_number: str = Form("", alias="page", max_length=6),
                  note: str = Form("", max_length=service.MAX_NOTE), ctx: Ctx = permission(REVIEW)) -> Response:
    score = _scored(ctx, task_id, record_id)
    at = _optional_number(page_number, int)
    service.add_deduction(ctx.session, ctx.actor, ctx.user, score, item_code, times, document_id or None, at, note)
    return RedirectResponse(_screen_path(task_id, record_id, document_id, at or 1), status_code=303)


@router.post(TASKS_PATH + "/{task_id}/records/{record_id}/deductions/{deduction_id}")
def deduction_decide(task_id: RowId, record_id: RowId, deduction_id: RowId,
                     action: str = Form("", max_length=16), ctx: Ctx = permission(REVIEW)) -> Response:
    score = _scored(ctx, task_id, record_id)
    if action in ("accept", "dismiss"):
        service.decide(ctx.session, ctx.actor, ctx.user, score, deduction_id, accept=action == "accept")
    elif action == "delete":
        service.remove_deduction(ctx.session, ctx.actor, ctx.user, score, deduction_id)
    else:
        raise Refusal("请选择扣分、忽略或删除")
    return RedirectResponse(_screen_path(task_id, record_id), status_code=303)


@router.post(TASKS_PATH + "/{task_id}/records/{record_id}/submit")
def score_submit(task_id: RowId, record_id: RowId, note: str = Form("", max_length=service.MAX_NOTE),
                 ctx: Ctx = permission(REVIEW)) -> Response:
    score = _scored(ctx, task_id, record_id)
    service.save_note(ctx.session, ctx.actor, ctx.user, score, note)
    service.submit(ctx.session, ctx.actor, ctx.user, score)
    return RedirectResponse(f"{TASKS_PATH}/{task_id}?mine=1", status_code=303)


# --- final-QC records ---------------------------------------------------------------------------

def _finals_query(name: str, inpatient_number: str, department: str, stay_from: str, stay_to: str, grade: str,
                  reviewer: str, task: str, page_number: int) -> finals.Query:
    def number(text: str) -> int | None:
        value = (text or "").strip()
        return int(value) if value.isascii() and value.isdigit() and len(value) < 7 else None

    return finals.Query(name=name, inpatient_number=inpatient_number, department=department,
                        stay_from=number(stay_from), stay_to=number(stay_to),
                        grade=grade if grade in ("甲", "乙", "丙") else "", reviewer_id=number(reviewer),
                        task_id=number(task), page=page_number)


FILTERS = {"name": Query("", max_length=64), "inpatient_number": Query("", max_length=32),
           "department": Query("", max_length=32), "stay_from": Query("", max_length=6),
           "stay_to": Query("", max_length=6), "grade": Query("", max_length=2), "reviewer": Query("", max_length=12),
           "task": Query("", max_length=12)}


@router.get(FINALS_PATH, response_class=HTMLResponse)
def finals_page(request: Request, name: str = FILTERS["name"], inpatient_number: str = FILTERS["inpatient_number"],
                department: str = FILTERS["department"], stay_from: str = FILTERS["stay_from"],
                stay_to: str = FILTERS["stay_to"], grade: str = FILTERS["grade"], reviewer: str = FILTERS["reviewer"],
                task: str = FILTERS["task"], page_number: int = Query(1, alias="page", ge=1, le=10_000),
                ctx: Ctx = permission(REVIEW)) -> Response:
    ask = _finals_query(name, inpatient_number, department, stay_from, stay_to, grade, reviewer, task, page_number)
    found = finals.search(ctx.session, ctx.subject, ask)
    paging = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "page"])
    return page(request, "scoring/finals.html", ctx, ask=ask, found=found, query=request.url.query,
                paging=paging, pages=max(1, -(-found.total // ask.per_page)),
                departments=ctx.session.query(Department).order_by(Department.code).all(),
                reviewers=finals.reviewers(ctx.session), tasks=finals.tasks(ctx.session))


@router.get(FINALS_PATH + ".xlsx")
def finals_export(request: Request, name: str = FILTERS["name"], inpatient_number: str = FILTERS["inpatient_number"],
                  department: str = FILTERS["department"], stay_from: str = FILTERS["stay_from"],
                  stay_to: str = FILTERS["stay_to"], grade: str = FILTERS["grade"],
                  reviewer: str = FILTERS["reviewer"], task: str = FILTERS["task"],
                  ctx: Ctx = permission(REVIEW)) -> Response:
    ask = _finals_query(name, inpatient_number, department, stay_from, stay_to, grade, reviewer, task, 1)
    book = Spreadsheet()
    sheet = book.sheet("终末质控病历", finals.HEADERS)
    rows = 0
    for score in finals.every(ctx.session, ctx.subject, ask):
        sheet.append(finals.cells(score))
        rows += 1
    ctx.audit("export", object_type="final_scores", detail={"导出": "终末质控病历", "行数": rows,
                                                            "条件": request.url.query})
    return _download(book.close(), f"final-qc-{clock.file_stamp()}.xlsx")
