"""The JSON API of historical imports (历史病案批量导入) and the digitisation workload (工作量):
start an import from a manifest or a folder under the import root (→ its job), follow it, pause
and resume it, its report of what was not imported (JSON and xlsx); the workload per person."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from bingan.clock import file_stamp
from bingan.errors import Refusal
from bingan.records import jobs
from bingan.records.digitisation import imports, workload
from bingan.storage.models.jobs import Job
from bingan.web.deps import Ctx, permission
from bingan.web.downloads import xlsx_response
from bingan.web.inputs import MAX_ID, RowId

router = APIRouter(prefix="/api/v1", tags=["病案数字化"])
REPORT_LIMIT = 500
MONTH = r"^\d{4}-\d{2}$"
IMPORT_BODY = {"requestBody": {"content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "manifest": {"type": "string", "format": "binary", "description": "CSV 清单：文件路径,病案号,住院次数,分类"},
        "manifest_path": {"type": "string", "description": "导入根目录下的 CSV 清单"},
        "folder": {"type": "string", "description": "导入根目录下的文件夹：病案号/住院次数/分类/文件"}}}},
    "application/json": {"schema": {"type": "object", "properties": {
        "manifest": {"type": "string", "description": "CSV 清单的内容"},
        "manifest_path": {"type": "string"}, "folder": {"type": "string"}}}}}}}


async def import_source(request: Request) -> tuple[str, str, list[imports.Row]]:
    """(kind, origin, rows) from a multipart form (an uploaded manifest) or a JSON body."""
    root = request.app.state.settings.resolved_import_root
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise Refusal("请求体应为 JSON 对象：manifest、manifest_path 或 folder")
        text = body.get("manifest")
        return imports.rows_from(root, upload=text.encode() if isinstance(text, str) else None,
                                 manifest_path=_text(body.get("manifest_path")), folder=_text(body.get("folder")))
    form = await request.form()
    upload = form.get("manifest")
    data = await upload.read(imports.MAX_MANIFEST + 1) if isinstance(upload, UploadFile) else None
    return imports.rows_from(root, upload=data, upload_name=upload.filename if data else "",
                             manifest_path=_text(form.get("manifest_path")), folder=_text(form.get("folder")))


def _text(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 1000:
        raise Refusal("清单文件或文件夹应为不超过 1000 字的路径")
    return value


@router.post("/imports", status_code=202, openapi_extra=IMPORT_BODY,
             summary="历史病案批量导入：上传 CSV 清单，或指定导入根目录下的清单或文件夹（病案号/住院次数/分类/文件）；"
                     "返回导入及其后台任务（进度见 /api/v1/jobs/{id}）")
async def start(request: Request, ctx: Ctx = permission("scan.import")) -> dict:
    kind, origin, rows = await import_source(request)
    scan_import = imports.start(ctx.session, ctx.actor, ctx.user, kind, origin, rows)
    ctx.session.flush()
    return {**imports.import_json(ctx.session, scan_import),
            "job": jobs.job_view(ctx.session.get(Job, scan_import.job_id))}


@router.get("/imports", summary="历史导入列表（最近 100 次）")
def list_imports(ctx: Ctx = permission("scan.import")) -> dict:
    found = imports.all_imports(ctx.session)
    return {"count": len(found), "items": [imports.import_json(ctx.session, item) for item in found]}


@router.get("/imports/{import_id}", summary="一次导入：进度、已导入页数、未导入的文件及原因")
def one_import(import_id: RowId, ctx: Ctx = permission("scan.import")) -> dict:
    scan_import = imports.import_by_id(ctx.session, import_id)
    report = imports.report(ctx.session, scan_import.id)
    return {**imports.import_json(ctx.session, scan_import), "report_count": len(report),
            "report": [imports.entry_json(entry) for entry in report[:REPORT_LIMIT]]}


@router.get("/imports/{import_id}/report.xlsx", summary="导入报告（未导入的文件及原因）xlsx")
def report_xlsx(import_id: RowId, ctx: Ctx = permission("scan.import")) -> Response:
    scan_import = imports.import_by_id(ctx.session, import_id)
    report = imports.report(ctx.session, scan_import.id)
    ctx.audit("export", object_type="scan_import", object_id=scan_import.id, detail={"导入报告行数": len(report)})
    return xlsx_response(f"导入报告-{scan_import.id}-{file_stamp()}.xlsx", "未导入的文件", imports.REPORT_HEADERS,
                         (imports.report_cells(entry) for entry in report))


@router.post("/imports/{import_id}/pause", summary="暂停导入（处理完当前文件后停止）")
def pause(import_id: RowId, ctx: Ctx = permission("scan.import")) -> dict:
    scan_import = imports.pause(ctx.session, ctx.actor, imports.import_by_id(ctx.session, import_id))
    return imports.import_json(ctx.session, scan_import)


@router.post("/imports/{import_id}/resume", summary="继续导入（从第一个未完成的文件开始）")
def resume(import_id: RowId, ctx: Ctx = permission("scan.import")) -> dict:
    scan_import = imports.resume(ctx.session, ctx.actor, ctx.user, imports.import_by_id(ctx.session, import_id))
    ctx.session.flush()
    return imports.import_json(ctx.session, scan_import)


@router.get("/digitisation/workload", summary="数字化工作量：按人按日的拍摄页数、审核页数、归档病案数")
def workload_json(month: str = Query(..., pattern=MONTH, description="统计月份 YYYY-MM"),
                  user_id: int | None = Query(None, ge=1, le=MAX_ID, description="只看某人"),
                  ctx: Ctx = permission("reports.view")) -> dict:
    return workload.workload(ctx.session, month, user_id).as_json()


@router.get("/digitisation/workload.xlsx", summary="数字化工作量 xlsx")
def workload_xlsx(month: str = Query(..., pattern=MONTH, description="统计月份 YYYY-MM"),
                  user_id: int | None = Query(None, ge=1, le=MAX_ID),
                  ctx: Ctx = permission("reports.view")) -> Response:
    result = workload.workload(ctx.session, month, user_id)
    ctx.audit("export", object_type="workload", detail={"统计月份": month})
    return xlsx_response(f"数字化工作量-{month}.xlsx", "工作量", workload.HEADERS, workload.rows_for_sheet(result))
