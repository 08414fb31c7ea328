"""Sealing pages: the application form on a record, the seal register and one seal for seal
managers (parties, scope, the package's progress, the package and the seal list, the unseal form)."""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.access.policy import decide_for
from bingan.records import jobs
from bingan.records.sealing import service
from bingan.storage.models.jobs import Job
from bingan.web import navigation
from bingan.web.deps import Ctx, RecordAccess, permission, record_gate
from bingan.web.inputs import RowId
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
navigation.register("借阅与封存", "封存登记", "/sealing", "seal.manage")
PARTY_ROWS = 4


def _parties(roles: list[str], names: list[str], ids: list[str], organisations: list[str],
             relations: list[str]) -> list[dict]:
    """The form's party rows; a row without a name is an unused row."""
    rows = zip(roles, names, ids + [""] * len(names), organisations + [""] * len(names),
               relations + [""] * len(names), strict=False)
    return [{"role": role, "name": name, "id_number": id_number, "organisation": organisation, "relation": relation}
            for role, name, id_number, organisation, relation in rows if name.strip()]


@router.get("/records/{record_id}/seal", response_class=HTMLResponse)
def seal_form(request: Request, access: RecordAccess = record_gate("apply_seal")) -> Response:
    ctx, record = access.ctx, access.record
    # Titles only to whoever may read the record: applying does not need the department scope.
    documents = service.current_documents(ctx.session, record) if decide_for(ctx.subject, "view", record) else []
    return page(request, "sealing/apply.html", ctx, record=record, documents=documents, roles=service.PARTY_ROLES,
                rows=range(PARTY_ROWS))


@router.post("/records/{record_id}/seal")
def seal_apply(reason: str = Form("", max_length=2000), dispute: str = Form("", max_length=2000),
               scope: str = Form("record", max_length=20), document_ids: list[int] = Form([]),
               party_role: list[str] = Form([]), party_name: list[str] = Form([]), party_id: list[str] = Form([]),
               party_org: list[str] = Form([]), party_relation: list[str] = Form([]),
               access: RecordAccess = record_gate("apply_seal")) -> Response:
    ctx = access.ctx
    form = service.SealForm(reason=reason, dispute=dispute, scope=scope, document_ids=document_ids or None,
                            parties=_parties(party_role, party_name, party_id, party_org, party_relation))
    seal = service.apply_seal(ctx.session, ctx.actor, ctx.user, access.record, form)
    return RedirectResponse(f"/approvals/{seal.request_id}", status_code=303)


@router.post("/records/{record_id}/unseal")
def unseal_apply(reason: str = Form("", max_length=2000), party_role: list[str] = Form([]),
                 party_name: list[str] = Form([]), party_id: list[str] = Form([]), party_org: list[str] = Form([]),
                 party_relation: list[str] = Form([]), access: RecordAccess = record_gate("apply_unseal")) -> Response:
    ctx = access.ctx
    seal = service.apply_unseal(ctx.session, ctx.actor, ctx.user, access.record, reason,
                                _parties(party_role, party_name, party_id, party_org, party_relation))
    return RedirectResponse(f"/approvals/{seal.unseal_request_id}", status_code=303)


@router.get("/sealing", response_class=HTMLResponse)
def register(request: Request, status: str = "sealed", ctx: Ctx = permission("seal.manage")) -> Response:
    rows = service.seals(ctx.session, status)
    ctx.audit("seal.list", object_type="seal", detail={"状态": status or "全部", "条数": len(rows)})
    return page(request, "sealing/list.html", ctx, rows=rows, status=status, statuses=service.STATUS_NAMES,
                packages=service.PACKAGE_NAMES, mask_id=service.mask_id)


@router.get("/sealing/{seal_id}", response_class=HTMLResponse)
def seal_page(request: Request, seal_id: RowId, ctx: Ctx = permission("seal.manage")) -> Response:
    seal = service.get_seal(ctx.session, seal_id)
    job = ctx.session.get(Job, seal.package_job_id) if seal.package_job_id else None
    may_unseal = seal.status == "sealed" and bool(decide_for(ctx.subject, "apply_unseal", seal.record))
    ctx.audit("seal.view", object_type="seal", object_id=seal.id, record_id=seal.record_id)
    return page(request, "sealing/seal.html", ctx, seal=seal, job=jobs.job_view(job) if job else None,
                statuses=service.STATUS_NAMES, packages=service.PACKAGE_NAMES, mask_id=service.mask_id,
                may_unseal=may_unseal, roles=service.PARTY_ROLES, rows=range(PARTY_ROWS))


@router.post("/sealing/{seal_id}/package")
def rebuild(seal_id: RowId, ctx: Ctx = permission("seal.manage")) -> Response:
    """A package whose job failed (a worker lost its disk…) is built again."""
    service.restart_package(ctx.session, ctx.actor, service.get_seal(ctx.session, seal_id))
    return RedirectResponse(f"/sealing/{seal_id}", status_code=303)
