"""The paper-records JSON API (病案数字化加工): capture, review queues, review, re-shot, page
edits (rotate, crop, straighten, auto-crop, delete, re-file, page order), page images, labels as
PDF, boxes and shelves, where a paper record is."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from bingan.access.policy import decide_for
from bingan.errors import Refusal
from bingan.ingest import scans
from bingan.records import lifecycle
from bingan.records.digitisation import editing, images, labels, paper, service
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models.digitisation import ScanPage
from bingan.web.deps import (
    Ctx,
    RecordAccess,
    Refused,
    any_permission,
    gate_record,
    load_record,
    permission,
    record_gate,
    require,
)
from bingan.web.inputs import MAX_ID, RowId

router = APIRouter(prefix="/api/v1", tags=["病案数字化"])
SCANS_PATH = "/api/v1/records/{id}/scans"
RESHOOT_PATH = "/api/v1/pages/{id}/reshoot"
MAX_UPLOAD = 500 * 1024 * 1024  # a thick record as 200-dpi TIFF; the request ceiling still applies


class ReviewBody(BaseModel):
    decision: Literal["pass", "reject"] = Field(..., description="pass 通过 / reject 退回重拍")
    reason: str = Field("", max_length=service.MAX_REASON, description="退回重拍的原因（reject 时必填）")


class FinishBody(BaseModel):
    archive: bool = Field(False, description="审核全部通过时一并归档（一键归档，需归档质控权限）")


class PlaceBody(BaseModel):
    room: str = Field("", max_length=64, description="库房")
    rack: str = Field("", max_length=32, description="架")
    level: int | None = Field(None, ge=1, le=paper.MAX_LEVEL, description="层")
    position: int | None = Field(None, ge=1, le=paper.MAX_LEVEL, description="位")

    def place(self) -> paper.Place:
        return paper.Place(self.room, self.rack, self.level, self.position)


class BoxBody(PlaceBody):
    title: str = Field("", max_length=100, description="盒名称")
    barcode: str = Field("", max_length=32, description="盒条码（留空自动编号）")


class PutBody(BaseModel):
    label: str = Field(..., min_length=1, max_length=48, description="扫描到的病案标签：病案号-住院次数")


def _blobs(request: Request):
    return open_blob_store(request.app.state.settings)


async def _read(upload: UploadFile) -> list[images.PageImage]:
    return images.read_upload(await upload.read(), upload.filename or "")


@router.post("/records/{record_id}/scans", summary="上传拍摄或扫描的页面（JPEG/PNG/TIFF/PDF）并指定病案分类")
async def capture(request: Request, files: list[UploadFile] = File(...),
                  category: str = Form(..., max_length=32),
                  auto_crop: bool = Form(False, description="自动裁边：从高拍仪画面中切出纸张（桌面比纸张暗）"),
                  access: RecordAccess = record_gate("scan")) -> dict:
    ctx, record = access.ctx, access.record
    chosen = service.category_by_code(ctx.session, category, record.visit_type)
    pictures = images.read_uploads([(await upload.read(), upload.filename or "") for upload in files], auto_crop)
    pages, item_id = scans.capture_pages(ctx.session, ctx.actor, _blobs(request), record, chosen, pictures)
    return {"record_id": record.id, "category": chosen.code, "item_id": item_id, "count": len(pages),
            "flagged": sum(page.flagged for page in pages), "pages": [service.page_json(page) for page in pages]}


@router.get("/records/{record_id}/scans", summary="病案已拍摄的页面及审核情况")
def record_scans(access: RecordAccess = record_gate("scan")) -> dict:
    session = access.ctx.session
    pages = service.record_pages(session, access.record.id)
    return {"record_id": access.record.id, "summary": service.review_summary(session, access.record.id),
            "pages": [service.page_json(page) for page in pages]}


@router.post("/records/{record_id}/scans/finish",
             summary="拍摄完成：必需的纸质分类都已拍摄、无待重拍页面；可选一键归档")
def finish(body: FinishBody, access: RecordAccess = record_gate("scan")) -> dict:
    ctx = access.ctx
    if body.archive and not ctx.can("qc.review"):
        raise Refused("一键归档需要归档质控权限")
    done = service.finish(ctx.session, ctx.actor, access.record, body.archive)
    record = done.record
    return {"record_id": record.id, "finished": True, "archived": done.archived, "summary": done.summary,
            "status": record.status, "status_name": lifecycle.state_name(record.status)}


@router.get("/digitisation/review",
            summary="审核队列：first 初审 / re 复审（影像审核权限）/ rework 返工（待重拍，拍摄权限）")
def review_queue(queue: Literal["first", "re", "rework"] = "first",
                 ctx: Ctx = any_permission("scan.review", "scan.capture")) -> dict:
    require(ctx, service.QUEUE_PERMISSIONS[queue])
    action = service.QUEUE_ACTIONS[queue]
    pages = [page for page in service.queue(ctx.session, queue) if decide_for(ctx.subject, action, page.record)]
    return {"queue": queue, "queue_name": service.QUEUES[queue], "count": len(pages),
            "items": [service.page_json(page) for page in pages]}


def _page(ctx: Ctx, page_id: int, action: str = "scan") -> ScanPage:
    page = service.page_by_id(ctx.session, page_id)
    gate_record(ctx, action, load_record(ctx.session, page.record_id))
    return page


@router.post("/pages/{page_id}/review", summary="审核页面：通过，或退回重拍（须填原因）")
def review(page_id: RowId, body: ReviewBody, ctx: Ctx = permission("scan.review")) -> dict:
    page = service.review(ctx.session, ctx.actor, _page(ctx, page_id, "scan_review"), body.decision, body.reason)
    return service.page_json(page)


@router.post("/pages/{page_id}/reshoot", summary="重拍：以新图像替换该页，生成文书的新版本，页面回到复审")
async def reshoot(page_id: RowId, request: Request, file: UploadFile = File(...),
                  auto_crop: bool = Form(False, description="自动裁边：从高拍仪画面中切出纸张"),
                  ctx: Ctx = permission("scan.capture")) -> dict:
    page = _page(ctx, page_id)
    pictures = await _read(file)
    if len(pictures) != 1:
        raise Refusal(f"重拍只能上传一页图像，收到 {len(pictures)} 页")
    picture = images.auto_crop(pictures[0]) if auto_crop else pictures[0]
    item_id = scans.reshoot_page(ctx.session, ctx.actor, _blobs(request), page, picture)
    return {**service.page_json(page), "item_id": item_id}


@router.get("/pages/{page_id}/image", summary="拍摄页面的原图（JPEG）")
def page_image(page_id: RowId, request: Request,
               width: int | None = Query(None, ge=80, le=1200, description="缩略图宽度（像素），不填为原图"),
               ctx: Ctx = permission("scan.capture")) -> Response:
    page = _page(ctx, page_id)
    data = images.load(_blobs(request), page.image_sha256)
    if width:
        data = images.thumbnail(data, width)
    ctx.audit("page_view", object_type="scan_page", object_id=page.id, record_id=page.record_id)
    return Response(data, media_type=page.media_type, headers={"Cache-Control": "private, no-store"})


class RotateBody(BaseModel):
    degrees: Literal[90, 180, 270] = Field(..., description="顺时针旋转角度")


class CropBody(BaseModel):
    left: float = Field(..., ge=0, le=1, description="左边界（占宽度的比例 0–1）")
    top: float = Field(..., ge=0, le=1, description="上边界（占高度的比例 0–1）")
    right: float = Field(..., ge=0, le=1, description="右边界")
    bottom: float = Field(..., ge=0, le=1, description="下边界")


class CategoryBody(BaseModel):
    category: str = Field(..., min_length=1, max_length=32, description="新的病案分类代码")


class OrderBody(BaseModel):
    page_ids: list[int] = Field(..., max_length=5000, description="该病案全部页面的 ID，按新的顺序")


def _edited(request: Request, ctx: Ctx, page: ScanPage, edit: str, change) -> dict:
    item_id = scans.edit_page(ctx.session, ctx.actor, _blobs(request), page, edit, change)
    return {**service.page_json(page), "item_id": item_id}


@router.post("/pages/{page_id}/rotate", summary="旋转页面（顺时针 90/180/270 度）")
def rotate(page_id: RowId, body: RotateBody, request: Request, ctx: Ctx = permission("scan.capture")) -> dict:
    return _edited(request, ctx, _page(ctx, page_id), "rotate", lambda picture: images.rotate(picture, body.degrees))


@router.post("/pages/{page_id}/crop", summary="裁剪页面（按比例给出保留的矩形）")
def crop(page_id: RowId, body: CropBody, request: Request, ctx: Ctx = permission("scan.capture")) -> dict:
    box = (body.left, body.top, body.right, body.bottom)
    return _edited(request, ctx, _page(ctx, page_id), "crop", lambda picture: images.crop(picture, *box))


@router.post("/pages/{page_id}/auto-crop", summary="自动裁边：切到纸张边缘")
def auto_crop(page_id: RowId, request: Request, ctx: Ctx = permission("scan.capture")) -> dict:
    return _edited(request, ctx, _page(ctx, page_id), "auto_crop", images.cut_to_page)


@router.post("/pages/{page_id}/deskew", summary="纠偏：按质量检查测得的倾斜角度摆正页面")
def deskew(page_id: RowId, request: Request, ctx: Ctx = permission("scan.capture")) -> dict:
    page = _page(ctx, page_id)
    angle = editing.skew_of(page)
    if not angle:
        raise Refusal("该页面没有测得倾斜，无需纠偏")
    return _edited(request, ctx, page, "deskew", lambda picture: images.straighten(picture, angle))


@router.delete("/pages/{page_id}", summary="删除页面（其后的页面依次前移）")
def delete_page(page_id: RowId, request: Request, ctx: Ctx = permission("scan.capture")) -> dict:
    page = _page(ctx, page_id)
    record = page.record
    category = editing.delete(ctx.session, ctx.actor, page)
    item_ids = scans.resubmit(ctx.session, _blobs(request), record, [category])
    return {"deleted": page_id, "record_id": record.id, "item_ids": item_ids,
            "summary": service.review_summary(ctx.session, record.id)}


@router.put("/pages/{page_id}/category", summary="更改页面的病案分类（移到新分类的末尾）")
def refile(page_id: RowId, body: CategoryBody, request: Request, ctx: Ctx = permission("scan.capture")) -> dict:
    page = _page(ctx, page_id)
    category = service.category_by_code(ctx.session, body.category, page.record.visit_type)
    changed = editing.refile(ctx.session, ctx.actor, page, category)
    item_ids = scans.resubmit(ctx.session, _blobs(request), page.record, changed)
    return {**service.page_json(page), "item_ids": item_ids}


@router.put("/records/{record_id}/scans/order", summary="调整页序：按给出的顺序重排该病案的全部页面")
def reorder(body: OrderBody, request: Request, access: RecordAccess = record_gate("scan")) -> dict:
    ctx, record = access.ctx, access.record
    changed = editing.reorder(ctx.session, ctx.actor, record, body.page_ids)
    item_ids = scans.resubmit(ctx.session, _blobs(request), record, changed)
    return {"record_id": record.id, "item_ids": item_ids,
            "pages": [service.page_json(page) for page in service.record_pages(ctx.session, record.id)]}


@router.get("/labels.pdf", summary="病案或病案盒标签 PDF（Code 128 + 二维码；50x30 标签纸或 A4）")
def labels_pdf(record_ids: str = Query("", max_length=20_000, description="病案 ID，逗号分隔"),
               box_ids: str = Query("", max_length=20_000, description="病案盒 ID，逗号分隔"),
               size: Literal["50x30", "a4"] = "50x30",
               fields: str = Query("", max_length=200, description="标签内容，逗号分隔：" + ",".join(labels.FIELDS)),
               ctx: Ctx = permission("scan.capture")) -> Response:
    chosen = labels.parse_fields(fields)
    printed = []
    for record_id in _ids(record_ids):
        record = load_record(ctx.session, record_id)
        gate_record(ctx, "scan", record)
        printed.append(labels.record_label(record, chosen))
    boxes = [paper.box_by_id(ctx.session, box_id) for box_id in _ids(box_ids)]
    printed += [labels.box_label(box, paper.place_text(box)) for box in boxes]
    data = labels.labels_pdf(printed, size)
    ctx.audit("print", object_type="labels", detail={"标签": len(printed), "规格": labels.SIZES[size],
                                                      "病案": record_ids[:500], "病案盒": box_ids[:500]})
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": 'inline; filename="labels.pdf"', "Cache-Control": "no-store"})


def _ids(text: str) -> list[int]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not all(part.isdigit() and 1 <= int(part) <= MAX_ID for part in parts):
        raise Refusal("ID 应为逗号分隔的正整数")
    return list(dict.fromkeys(int(part) for part in parts))


@router.get("/paper-boxes", summary="病案盒列表（可按条码查找）")
def boxes(barcode: str = Query("", max_length=32), ctx: Ctx = permission("scan.capture")) -> dict:
    found = [paper.box_by_barcode(ctx.session, barcode)] if barcode else paper.all_boxes(ctx.session)
    return {"count": len(found), "items": [paper.box_json(box) for box in found]}


@router.post("/paper-boxes", summary="新建病案盒（条码、名称、库房/架/层/位）")
def create_box(body: BoxBody, ctx: Ctx = permission("scan.capture")) -> dict:
    return paper.box_json(paper.create_box(ctx.session, ctx.actor, body.title, body.place(), body.barcode))


@router.get("/paper-boxes/{box_id}", summary="病案盒及盒内病案")
def box(box_id: RowId, ctx: Ctx = permission("scan.capture")) -> dict:
    found = paper.box_by_id(ctx.session, box_id)
    records = paper.box_contents(ctx.session, found)
    return {**paper.box_json(found), "records": [{"record_id": r.id, "record_number": r.record_number,
                                                  "stay": r.stay_number} for r in records]}


@router.put("/paper-boxes/{box_id}/location", summary="病案盒移架（记录移动）")
def move_box(box_id: RowId, body: PlaceBody, ctx: Ctx = permission("scan.capture")) -> dict:
    return paper.box_json(paper.move_box(ctx.session, ctx.actor, paper.box_by_id(ctx.session, box_id), body.place()))


@router.post("/paper-boxes/{box_id}/records", summary="扫描病案标签装盒（记录移动）")
def put_into_box(box_id: RowId, body: PutBody, ctx: Ctx = permission("scan.capture")) -> dict:
    target = paper.box_by_id(ctx.session, box_id)
    record = paper.record_by_label(ctx.session, body.label)
    gate_record(ctx, "scan", record)
    paper.put_into_box(ctx.session, ctx.actor, target, record)
    return {"record_id": record.id, "record_number": record.record_number, "stay": record.stay_number,
            "box": paper.box_json(target)}


@router.get("/paper-locations", summary="纸质病案在哪里：按病案号查盒与库位及移动记录")
def paper_locations(record_number: str = Query(..., min_length=1, max_length=32),
                    ctx: Ctx = permission("scan.capture")) -> dict:
    found = paper.locations(ctx.session, record_number)
    ctx.audit("search", object_type="paper_location", detail={"病案号": record_number})
    return {"record_number": record_number.strip(), "count": len(found), "items": found}
