"""The pages of historical imports (历史导入) and the digitisation workload (数字化工作量) under
数字化加工: the list of imports with a progress bar each, starting one from an uploaded manifest
or a folder under the import root, pause and resume, the report; the workload per person."""
from __future__ import annotations

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan import clock
from bingan.records import jobs
from bingan.records.digitisation import imports, workload
from bingan.storage.models.imports import ScanImport
from bingan.storage.models.jobs import Job
from bingan.web import navigation
from bingan.web.deps import Ctx, permission
from bingan.web.downloads import xlsx_response
from bingan.web.errors import back_on_refusal
from bingan.web.inputs import MAX_ID, RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
IMPORTS_PATH = "/digitisation/imports"
WORKLOAD_PATH = "/digitisation/workload"
navigation.register("数字化加工", "历史导入", IMPORTS_PATH, "scan.import")
navigation.register("数字化加工", "工作量统计", WORKLOAD_PATH, "reports.view")


def _job(ctx: Ctx, scan_import: ScanImport) -> dict | None:
    job = ctx.session.get(Job, scan_import.job_id) if scan_import.job_id else None
    return jobs.job_view(job) if job is not None else None


@router.get(IMPORTS_PATH, response_class=HTMLResponse)
def imports_page(request: Request, error: str = Query("", max_length=2000),
                 ctx: Ctx = permission("scan.import")) -> Response:
    found = imports.all_imports(ctx.session)
    rows = [(imports.import_json(ctx.session, item), _job(ctx, item)) for item in found]
    return page(request, "digitisation/imports.html", ctx, rows=rows, error=error,
                root=request.app.state.settings.resolved_import_root)


@router.post(IMPORTS_PATH, dependencies=[back_on_refusal(IMPORTS_PATH)])
async def start(request: Request, manifest: UploadFile | None = File(None), folder: str = Form("", max_length=1000),
                manifest_path: str = Form("", max_length=1000), ctx: Ctx = permission("scan.import")) -> Response:
    data = await manifest.read(imports.MAX_MANIFEST + 1) if manifest is not None else None
    kind, origin, rows = imports.rows_from(request.app.state.settings.resolved_import_root, upload=data or None,
                                           upload_name=manifest.filename if manifest else "",
                                           manifest_path=manifest_path, folder=folder)
    scan_import = imports.start(ctx.session, ctx.actor, ctx.user, kind, origin, rows)
    ctx.session.flush()
    return RedirectResponse(f"{IMPORTS_PATH}/{scan_import.id}", status_code=303)


@router.get(IMPORTS_PATH + "/{import_id}", response_class=HTMLResponse)
def import_page(request: Request, import_id: RowId, error: str = Query("", max_length=2000),
                ctx: Ctx = permission("scan.import")) -> Response:
    scan_import = imports.import_by_id(ctx.session, import_id)
    report = imports.report(ctx.session, scan_import.id)
    return page(request, "digitisation/import.html", ctx, item=imports.import_json(ctx.session, scan_import),
                job=_job(ctx, scan_import), report=report[:500], report_count=len(report), error=error,
                crumbs=[("数字化加工", None), ("历史导入", IMPORTS_PATH), (f"导入 #{scan_import.id}", None)])


@router.post(IMPORTS_PATH + "/{import_id}/pause", dependencies=[back_on_refusal(IMPORTS_PATH + "/{import_id}")])
def pause(import_id: RowId, ctx: Ctx = permission("scan.import")) -> Response:
    imports.pause(ctx.session, ctx.actor, imports.import_by_id(ctx.session, import_id))
    return RedirectResponse(f"{IMPORTS_PATH}/{import_id}", status_code=303)


@router.post(IMPORTS_PATH + "/{import_id}/resume", dependencies=[back_on_refusal(IMPORTS_PATH + "/{import_id}")])
def resume(import_id: RowId, ctx: Ctx = permission("scan.import")) -> Response:
    imports.resume(ctx.session, ctx.actor, ctx.user, imports.import_by_id(ctx.session, import_id))
    return RedirectResponse(f"{IMPORTS_PATH}/{import_id}", status_code=303)


@router.get(IMPORTS_PATH + "/{import_id}/report.xlsx")
def report_xlsx(import_id: RowId, ctx: Ctx = permission("scan.import")) -> Response:
    scan_import = imports.import_by_id(ctx.session, import_id)
    report = imports.report(ctx.session, scan_import.id)
    ctx.audit("export", object_type="scan_import", object_id=scan_import.id, detail={"导入报告行数": len(report)})
    return xlsx_response(f"导入报告-{scan_import.id}-{clock.file_stamp()}.xlsx", "未导入的文件",
                         imports.REPORT_HEADERS, (imports.report_cells(entry) for entry in report))


def _month(text: str) -> str:
    return text or clock.now().strftime("%Y-%m")


@router.get(WORKLOAD_PATH, response_class=HTMLResponse)
def workload_page(request: Request, month: str = Query("", max_length=7),
                  user_id: int | None = Query(None, ge=1, le=MAX_ID),
                  ctx: Ctx = permission("reports.view")) -> Response:
    everyone = workload.workload(ctx.session, _month(month))
    result = everyone if user_id is None else workload.workload(ctx.session, _month(month), user_id)
    ctx.audit("view", object_type="report", object_id="digitisation-workload",
              detail={"报表": "数字化工作量", "月份": result.month.strftime("%Y-%m")})
    return page(request, "digitisation/workload.html", ctx, result=result, people=everyone.people, user_id=user_id,
                query=request.url.query)


@router.get(WORKLOAD_PATH + ".xlsx")
def workload_xlsx(month: str = Query("", max_length=7), user_id: int | None = Query(None, ge=1, le=MAX_ID),
                  ctx: Ctx = permission("reports.view")) -> Response:
    result = workload.workload(ctx.session, _month(month), user_id)
    ctx.audit("export", object_type="report", object_id="digitisation-workload",
              detail={"报表": "数字化工作量", "月份": result.month.strftime("%Y-%m")})
    return xlsx_response(f"数字化工作量-{result.month:%Y-%m}.xlsx", "工作量", workload.HEADERS,
                         workload.rows_for_sheet(result))
