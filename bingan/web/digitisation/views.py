"""The operator's and reviewer's pages of paper-record capture (数字化加工): open a record by its
barcode label, shoot pages with the document camera (高拍仪) or upload scanner output, put pages
right, see what paper is still missing and finish (拍摄完成); the first-review, re-review and
rework queues. Everything through records/digitisation and ingest/scans.py, as the JSON API."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.access.policy import decide_for
from bingan.errors import Refusal
from bingan.ingest import scans
from bingan.records import lifecycle
from bingan.records.digitisation import images, paper, service
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import Record
from bingan.storage.models.digitisation import PAGE_STATES, ScanPage
from bingan.web import navigation
from bingan.web.deps import (
    Ctx,
    RecordAccess,
    any_permission,
    gate_record,
    load_record,
    permission,
    record_gate,
    require,
)
from bingan.web.errors import back_on_refusal
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
CAPTURE = "/digitisation/capture"
RECORD_PAGE = CAPTURE + "/{record_id}"
REVIEW = "/digitisation/review"
REVIEW_PAGE = REVIEW + "/pages/{page_id}"
UPLOAD_PATH = "/digitisation/capture/{id}/upload"
RESHOOT_PATH = "/digitisation/review/pages/{id}/reshoot"
# 常用退回原因: one button each on the review page; anything else is typed.
REJECT_REASONS = ("图像模糊", "页面倾斜", "页面不完整（被裁切）", "图像过暗", "图像过亮", "分类错误", "页序错误",
                  "有遮挡或手指", "非本病案页面")
navigation.register("数字化加工", "拍摄", CAPTURE, "scan.capture")
navigation.register("数字化加工", "初审", REVIEW, "scan.review", counter="scan.first")
navigation.register("数字化加工", "复审", REVIEW + "?queue=re", "scan.review", counter="scan.re")
navigation.register("数字化加工", "返工（待重拍）", REVIEW + "?queue=rework", "scan.capture", counter="scan.rework")


def _waiting(queue: str):
    def count(ctx: Ctx) -> int:
        return service.queue_size(ctx.session, queue) if ctx.can(service.QUEUE_PERMISSIONS[queue]) else 0
    return count


for _queue in service.QUEUES:
    navigation.register_counter(f"scan.{_queue}", _waiting(_queue))


# --- opening a record: its barcode label, or the number typed --------------------------------------

@router.get(CAPTURE, response_class=HTMLResponse)
def open_record(request: Request, label: str = "", ctx: Ctx = permission("scan.capture")) -> Response:
    """扫描病案标签 (a USB scanner types the label and Enter) or type 病案号[-住院次数]."""
    label = label.strip()[:48]
    stays: list[Record] = []
    error = ""
    if label:
        try:
            stays = [record for record in paper.records_by_label(ctx.session, label)
                     if decide_for(ctx.subject, "scan", record)]
        except Refusal as exc:
            error = str(exc)
        if not stays and not error:
            error = f"您没有拍摄病案“{label}”的权限"
        if len(stays) == 1:
            return RedirectResponse(RECORD_PAGE.format(record_id=stays[0].id), status_code=303)
    return page(request, "digitisation/capture_open.html", ctx, label=label, stays=stays, error=error,
                state_name=lifecycle.state_name, rework=service.queue_size(ctx.session, "rework"))


# --- the capture page of one record ------------------------------------------------------------

@router.get(RECORD_PAGE, response_class=HTMLResponse)
def capture_page(request: Request, access: RecordAccess = record_gate("scan")) -> Response:
    ctx, record = access.ctx, access.record
    ctx.audit("view", object_type="record", object_id=record.id, record_id=record.id, detail={"页面": "数字化拍摄"})
    categories = service.capture_categories(ctx.session, record.visit_type)
    missing = service.still_missing(ctx.session, record)
    first_missing = next((c.code for c in categories if c.name in missing), categories[0].code if categories else "")
    return page(request, "digitisation/capture.html", ctx, record=record, categories=categories,
                chosen=request.query_params.get("category", "") or first_missing,
                can_archive=ctx.can("qc.review") and record.status in service.ARCHIVE_PATHS,
                state_name=lifecycle.state_name(record.status), error=request.query_params.get("error", ""),
                done=request.query_params.get("done", ""), **_panel(ctx, record))


@router.get(RECORD_PAGE + "/pages", response_class=HTMLResponse)
def pages_panel(request: Request, access: RecordAccess = record_gate("scan")) -> Response:
    """The pages, the completeness panel and the counts, drawn again after a shot or an edit."""
    ctx, record = access.ctx, access.record
    return page(request, "digitisation/capture_pages.html", ctx, record=record,
                categories=service.capture_categories(ctx.session, record.visit_type), **_panel(ctx, record))


def _panel(ctx: Ctx, record: Record) -> dict:
    groups: dict[str, list[ScanPage]] = {}
    for scan in service.record_pages(ctx.session, record.id):
        groups.setdefault(scan.category.name, []).append(scan)
    return {"groups": groups, "missing": service.still_missing(ctx.session, record),
            "summary": service.review_summary(ctx.session, record.id), "states": PAGE_STATES}


@router.post(RECORD_PAGE + "/upload", dependencies=[back_on_refusal(RECORD_PAGE)])
async def upload(request: Request, files: list[UploadFile] = File(...), category: str = Form(..., max_length=32),
                 auto_crop: bool = Form(False), access: RecordAccess = record_gate("scan")) -> Response:
    """上传扫描件: multi-page TIFF, PDF, JPEG or PNG from the scanner, into one category."""
    ctx, record = access.ctx, access.record
    chosen = service.category_by_code(ctx.session, category, record.visit_type)
    pictures = images.read_uploads([(await item.read(), item.filename or "") for item in files], auto_crop)
    pages, _ = scans.capture_pages(ctx.session, ctx.actor, open_blob_store(request.app.state.settings), record,
                                   chosen, pictures)
    flagged = sum(scan.flagged for scan in pages)
    note = f"已保存 {len(pages)} 页到“{chosen.name}”" + (f"，其中 {flagged} 页有质量提示" if flagged else "")
    return _back(record.id, note, category=chosen.code)


@router.post(RECORD_PAGE + "/finish", dependencies=[back_on_refusal(RECORD_PAGE)])
def finish(archive: bool = Form(False), access: RecordAccess = record_gate("scan")) -> Response:
    """拍摄完成; with 一键归档 the record is archived too (归档质控权限)."""
    ctx = access.ctx
    if archive and not ctx.can("qc.review"):
        raise Refusal("一键归档需要归档质控权限")
    done = service.finish(ctx.session, ctx.actor, access.record, archive)
    note = "拍摄完成，病案已归档" if done.archived else f"拍摄完成，共 {sum(done.summary.values())} 页"
    return _back(access.record.id, note)


def _back(record_id: int, done: str, **query: str) -> Response:
    extra = "".join(f"&{key}={quote(value)}" for key, value in query.items())
    return RedirectResponse(f"{RECORD_PAGE.format(record_id=record_id)}?done={quote(done)}{extra}", status_code=303)


# --- review queues: 初审, 复审, 返工 ------------------------------------------------------------

@router.get(REVIEW, response_class=HTMLResponse)
def review_queue(request: Request, queue: str = "",
                 ctx: Ctx = any_permission("scan.review", "scan.capture")) -> Response:
    """The queues this user works: 初审 and 复审 for reviewers, 返工 for operators."""
    mine = {name: title for name, title in service.QUEUES.items() if ctx.can(service.QUEUE_PERMISSIONS[name])}
    if queue in service.QUEUES:
        require(ctx, service.QUEUE_PERMISSIONS[queue])
    else:
        queue = next(iter(mine))
    action = service.QUEUE_ACTIONS[queue]
    waiting = [scan for scan in service.queue(ctx.session, queue) if decide_for(ctx.subject, action, scan.record)]
    return page(request, "digitisation/review.html", ctx, queue=queue, queues=mine, waiting=waiting,
                counts={name: service.queue_size(ctx.session, name) for name in mine},
                reasons=REJECT_REASONS, error=request.query_params.get("error", ""),
                done=request.query_params.get("done", ""), states=PAGE_STATES,
                crumbs=[("数字化加工", ""), (service.QUEUES[queue], f"{REVIEW}?queue={queue}")])


@router.post(REVIEW_PAGE)
def decide(page_id: RowId, decision: str = Form(..., max_length=10), preset: str = Form("", max_length=50),
           reason: str = Form("", max_length=service.MAX_REASON), ctx: Ctx = permission("scan.review")) -> Response:
    """通过, or 退回重拍 with a common reason's button and/or the reason typed; a refusal goes back
    to the queue the page was in, with its reason."""
    scan = _scan(ctx, page_id, "scan_review")
    queue = scan.state if scan.state in service.QUEUES else "first"
    given = "；".join(part for part in (preset.strip(), reason.strip()) if part)
    try:
        service.review(ctx.session, ctx.actor, scan, decision, given)
    except Refusal as exc:
        return RedirectResponse(f"{REVIEW}?queue={queue}&error={quote(exc.message)}", status_code=303)
    note = f"{scan.category.name}第 {scan.position} 页" + ("已通过" if decision == "pass" else "已退回重拍")
    return RedirectResponse(f"{REVIEW}?queue={queue}&done={quote(note)}", status_code=303)


@router.post(REVIEW_PAGE + "/reshoot", dependencies=[back_on_refusal(REVIEW + "?queue=rework")])
async def reshoot(request: Request, page_id: RowId, file: UploadFile = File(...),
                  ctx: Ctx = permission("scan.capture")) -> Response:
    """重拍 from the rework queue: the new picture of the page, uploaded."""
    scan = _scan(ctx, page_id)
    pictures = images.read_upload(await file.read(), file.filename or "")
    if len(pictures) != 1:
        raise Refusal(f"重拍只能上传一页图像，收到 {len(pictures)} 页")
    scans.reshoot_page(ctx.session, ctx.actor, open_blob_store(request.app.state.settings), scan, pictures[0])
    note = f"{scan.category.name}第 {scan.position} 页已重拍，进入复审"
    return RedirectResponse(f"{REVIEW}?queue=rework&done={quote(note)}", status_code=303)


def _scan(ctx: Ctx, page_id: int, action: str = "scan") -> ScanPage:
    scan = service.page_by_id(ctx.session, page_id)
    gate_record(ctx, action, load_record(ctx.session, scan.record_id))
    return scan
