"""The final-QC scoring JSON API under /api/v1/scoring: standards (versions, a new version, the xlsx
preview), sampling tasks and their records, scores (open, deduct, accept or dismiss a proposal,
submit) and the final-QC records list — the same service functions as the pages."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, File, Query, UploadFile
from pydantic import BaseModel, Field

from bingan import clock
from bingan.records.scoring import finals, rules, service, standards, tasks
from bingan.storage.models.scoring import FinalScore, ScoringStandard, ScoringTask
from bingan.web.deps import Ctx, gate_record, permission
from bingan.web.inputs import MAX_ID, RowId

router = APIRouter(prefix="/api/v1/scoring", tags=["终末质控"])
MANAGE, REVIEW = "scoring.manage", "scoring.review"


class StandardBody(BaseModel):
    name: str = Field(..., max_length=100)
    sections: list[dict] = Field(..., max_length=rules.MAX_SECTIONS,
                                 description="[{name, points, items: [{text, deduction, max_times, cap, veto, "
                                             "veto_points, check}]}]")
    thresholds: dict[str, float] | None = Field(None, description='{"甲": 90, "乙": 80}')
    note: str = Field("", max_length=500)


class TaskBody(BaseModel):
    name: str = Field(..., max_length=100)
    month: str = Field(..., max_length=7, description="出院月份（医院时间）YYYY-MM")
    departments: list[str] = Field(default_factory=list, max_length=200, description="出院科室代码，空为全部")
    kind: Literal["", "normal", "death", "special"] = ""
    visit_type: Literal["inpatient", "outpatient"] = "inpatient"
    percent: float | None = Field(None, gt=0, le=100)
    count: int | None = Field(None, ge=1, le=tasks.MAX_DRAW)
    seed: int | None = Field(None, ge=0, le=tasks.MAX_SEED, description="随机种子；缺省时随机生成并记录")
    reviewer_ids: list[int] = Field(..., min_length=1, max_length=100)
    standard_id: int | None = Field(None, ge=1, le=MAX_ID)


class DeductionBody(BaseModel):
    item_code: str = Field(..., max_length=32)
    times: int = Field(1, ge=1, le=service.MAX_TIMES)
    document_id: int = Field(..., ge=1, le=MAX_ID)
    page: int | None = Field(None, ge=1, le=100_000)
    note: str = Field("", max_length=service.MAX_NOTE)


class DecisionBody(BaseModel):
    accept: bool


class SubmitBody(BaseModel):
    note: str = Field("", max_length=service.MAX_NOTE)


def _standard_json(row: ScoringStandard, *, full: bool = False) -> dict:
    standard = standards.standard_of(row)
    found = {"id": row.id, "name": row.name, "version": row.version, "current": row.current, "origin": row.origin,
             "points": standard.points, "thresholds": row.thresholds, "created_at": clock.iso(row.created_at)}
    if full:
        found["sections"] = row.sections
    return found


def _task_json(task: ScoringTask, scored: int | None = None, total: int | None = None) -> dict:
    return {"id": task.id, "name": task.name, "standard_id": task.standard_id, "rule": task.rule, "seed": task.seed,
            "reviewer_ids": task.reviewer_ids, "status": task.status, "created_at": clock.iso(task.created_at),
            **({"scored": scored, "total": total} if total is not None else {})}


def _score_json(score: FinalScore) -> dict:
    outcome = service.outcome_of(score)
    return {"id": score.id, "record_id": score.record_id, "task_id": score.task_id, "standard_id": score.standard_id,
            "reviewer_id": score.reviewer_id, "status": score.status, "total": score.total, "grade": score.grade,
            "scored_at": clock.iso(score.scored_at), "note": score.note,
            "veto_deducted": outcome.veto_deducted, "forced_grade": outcome.forced,
            "sections": [{"name": s.name, "points": s.points, "deducted": s.deducted} for s in outcome.sections],
            "deductions": [{"id": d.id, "item_code": d.item_code, "times": d.times, "document_id": d.document_id,
                            "page": d.page, "note": d.note, "source": d.source, "state": d.state}
                           for d in score.deductions]}


@router.get("/standards", summary="评分标准的各个版本")
def standards_list(ctx: Ctx = permission(MANAGE)) -> dict:
    return {"items": [_standard_json(row) for row in standards.listing(ctx.session)]}


@router.get("/standards/{standard_id}", summary="一个版本的评分标准全文")
def standard_get(standard_id: RowId, ctx: Ctx = permission(MANAGE)) -> dict:
    return _standard_json(standards.get(ctx.session, standard_id), full=True)


@router.post("/standards", summary="保存评分标准的新版本（同名则版本号加一）并设为当前使用", status_code=201)
def standard_save(body: StandardBody, ctx: Ctx = permission(MANAGE)) -> dict:
    row = standards.save_version(ctx.session, ctx.actor, ctx.user, body.name, body.sections, body.thresholds,
                                 origin="edit", note=body.note)
    return _standard_json(row, full=True)


@router.post("/standards/preview", summary="预览上传的 xlsx 评分标准（不保存）")
async def standard_preview(file: UploadFile = File(...), ctx: Ctx = permission(MANAGE)) -> dict:
    data = await file.read(standards.MAX_XLSX_BYTES + 1)
    return standards.read_xlsx(data, (file.filename or "").rsplit(".", 1)[0]).as_json()


@router.post("/standards/{standard_id}/current", summary="设为新建任务使用的版本")
def standard_current(standard_id: RowId, ctx: Ctx = permission(MANAGE)) -> dict:
    return _standard_json(standards.make_current(ctx.session, ctx.actor, standard_id))


@router.get("/tasks", summary="抽查任务及进度")
def tasks_list(ctx: Ctx = permission(REVIEW)) -> dict:
    return {"items": [_task_json(task, scored, total) for task, scored, total in tasks.listing(ctx.session)]}


@router.post("/tasks", summary="按规则随机抽取出院病案并轮流分配给评分人", status_code=201)
def task_create(body: TaskBody, ctx: Ctx = permission(MANAGE)) -> dict:
    rule = tasks.checked_rule(body.month, body.departments, body.kind, body.visit_type, body.percent, body.count)
    task = tasks.create(ctx.session, ctx.actor, ctx.user, body.name, rule, body.reviewer_ids, seed=body.seed,
                        standard_id=body.standard_id)
    return _task_json(task)


@router.get("/tasks/{task_id}", summary="任务的病案、评分人与进度")
def task_get(task_id: RowId, mine: bool = Query(False), ctx: Ctx = permission(REVIEW)) -> dict:
    task = tasks.get(ctx.session, task_id)
    return {**_task_json(task),
            "progress": [{"reviewer_id": p.reviewer.id, "reviewer": p.reviewer.full_name or p.reviewer.username,
                          "scored": p.scored, "total": p.total} for p in tasks.progress(ctx.session, task)],
            "records": [{"record_id": e.assignment.record_id, "record_number": e.assignment.record.record_number,
                         "reviewer_id": e.assignment.reviewer_id,
                         "score_id": e.score.id if e.score else None,
                         "status": e.score.status if e.score else "unscored",
                         "total": e.score.total if e.score else None,
                         "grade": e.score.grade if e.score and e.score.status == "final" else None}
                        for e in tasks.entries(ctx.session, task, ctx.user.id if mine else None)]}


@router.get("/tasks/{task_id}/records/{record_id}", summary="任务中一份病案的评分（未开始时为 null）")
def task_record(task_id: RowId, record_id: RowId, ctx: Ctx = permission(REVIEW)) -> dict:
    assignment = tasks.assignment(ctx.session, task_id, record_id)
    gate_record(ctx, "view", assignment.record)
    score = service.score_of(ctx.session, assignment)
    return {"task_id": task_id, "record_id": record_id, "reviewer_id": assignment.reviewer_id,
            "score": _score_json(score) if score else None}


@router.post("/tasks/{task_id}/records/{record_id}/score", summary="开始评分：建立草稿并提出系统建议扣分")
def score_open(task_id: RowId, record_id: RowId, ctx: Ctx = permission(REVIEW)) -> dict:
    assignment = tasks.assignment(ctx.session, task_id, record_id)
    gate_record(ctx, "view", assignment.record)
    return _score_json(service.open_score(ctx.session, ctx.actor, ctx.user, assignment))


def _score(ctx: Ctx, score_id: int) -> FinalScore:
    score = service.get(ctx.session, score_id)
    gate_record(ctx, "view", score.record)
    return score


@router.get("/scores", summary="终末质控病历：按姓名、住院号、出院科室、住院天数、等级、评分人、任务查询")
def scores_list(name: str = Query("", max_length=64), inpatient_number: str = Query("", max_length=32),
                department: str = Query("", max_length=32), stay_from: int | None = Query(None, ge=0, le=100_000),
                stay_to: int | None = Query(None, ge=0, le=100_000), grade: Literal["", "甲", "乙", "丙"] = "",
                reviewer_id: int | None = Query(None, ge=1, le=MAX_ID), task_id: int | None = Query(None, ge=1,
                                                                                                  le=MAX_ID),
                page: int = Query(1, ge=1, le=10_000), per_page: int = Query(finals.PER_PAGE, ge=1, le=500),
                ctx: Ctx = permission(REVIEW)) -> dict:
    ask = finals.Query(name=name, inpatient_number=inpatient_number, department=department, stay_from=stay_from,
                       stay_to=stay_to, grade=grade, reviewer_id=reviewer_id, task_id=task_id, page=page,
                       per_page=per_page)
    found = finals.search(ctx.session, ctx.subject, ask)
    return {"total": found.total, "page": page, "per_page": per_page,
            "items": [finals.as_json(score) for score in found.rows]}


@router.get("/scores/{score_id}", summary="一份评分及其扣分明细")
def score_get(score_id: RowId, ctx: Ctx = permission(REVIEW)) -> dict:
    return _score_json(_score(ctx, score_id))


@router.post("/scores/{score_id}/deductions", summary="人工扣分（须指明文书，可指明页码）", status_code=201)
def deduction_add(score_id: RowId, body: DeductionBody, ctx: Ctx = permission(REVIEW)) -> dict:
    score = _score(ctx, score_id)
    service.add_deduction(ctx.session, ctx.actor, ctx.user, score, body.item_code, body.times, body.document_id,
                          body.page, body.note)
    return _score_json(score)


@router.post("/scores/{score_id}/deductions/{deduction_id}/decision", summary="确认（扣分）或忽略系统建议扣分")
def deduction_decide(score_id: RowId, deduction_id: RowId, body: DecisionBody, ctx: Ctx = permission(REVIEW)) -> dict:
    score = _score(ctx, score_id)
    service.decide(ctx.session, ctx.actor, ctx.user, score, deduction_id, accept=body.accept)
    return _score_json(score)


@router.delete("/scores/{score_id}/deductions/{deduction_id}", summary="删除人工扣分（草稿中）")
def deduction_delete(score_id: RowId, deduction_id: RowId, ctx: Ctx = permission(REVIEW)) -> dict:
    score = _score(ctx, score_id)
    service.remove_deduction(ctx.session, ctx.actor, ctx.user, score, deduction_id)
    return _score_json(score)


@router.post("/scores/{score_id}/submit", summary="提交评分（之后不能修改）")
def score_submit(score_id: RowId, body: SubmitBody, ctx: Ctx = permission(REVIEW)) -> dict:
    score = _score(ctx, score_id)
    service.save_note(ctx.session, ctx.actor, ctx.user, score, body.note)
    service.submit(ctx.session, ctx.actor, ctx.user, score)
    return _score_json(score)
