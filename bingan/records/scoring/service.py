"""Scoring one drawn record (终末质控评分): the draft opened by its reviewer with the deductions
*proposed* from the record's stored self-check findings and unanswered archive-QC comments (each
accepted or dismissed by the reviewer, never counted before), manual deductions naming the document
and page, the running total and grade, and the final submission (audited). One final score per
record per task; a later task may score the record again — its grade is its latest final score."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan.access.audit import Actor, record_event
from bingan.errors import Conflict, NotFound, Refusal
from bingan.records.completeness.checks import latest_checks
from bingan.records.scoring import rules, standards
from bingan.storage.models import Document, User, Version, utcnow
from bingan.storage.models.qc import QcComment
from bingan.storage.models.scoring import FinalScore, ScoreDeduction, ScoringTaskRecord

MAX_NOTE = 500
MAX_TIMES = 50
SOURCE_NAMES = {"manual": "人工", "check": "系统自检", "qc_comment": "归档质控意见"}
STATE_NAMES = {"proposed": "待确认", "accepted": "已扣分", "dismissed": "已忽略"}


@dataclass(frozen=True)
class Proposal:
    item_code: str
    document_id: int | None
    page: int | None
    note: str
    source: str


def proposals(session: Session, standard: rules.Standard, record_id: int) -> list[Proposal]:
    """What the stored checks suggest: each finding of the latest self-check run, and each archive-QC
    comment never answered (整改), proposes the item whose ``check`` names it — an item naming the
    check and a word of the finding's message (``timeliness:入院记录``) before one naming the check only."""
    found: list[Proposal] = []
    report = latest_checks(session, record_id)
    for finding in report.findings if report else ():
        code = _item_for(standard, finding.check, finding.message)
        if code:
            found.append(Proposal(code, finding.document_id, finding.page, finding.message, "check"))
    code = _item_for(standard, "qc_comment", "")
    if code:
        for comment in session.scalars(sa.select(QcComment).where(QcComment.record_id == record_id,
                                                                  QcComment.reply == "")
                                       .order_by(QcComment.id)):
            found.append(Proposal(code, comment.document_id, comment.page, f"质控意见：{comment.text}",
                                  "qc_comment"))
    return found


def _item_for(standard: rules.Standard, check: str, message: str) -> str:
    general = ""
    for item in standard.items().values():
        name, _, word = item.check.partition(":")
        if name != check:
            continue
        if word and word in message:
            return item.code
        if not word and not general:
            general = item.code
    return general


def open_score(session: Session, actor: Actor, user: User, assignment: ScoringTaskRecord) -> FinalScore:
    """The reviewer's score of an assigned record: the existing one, or a new draft with the
    proposals (the first opening)."""
    score = score_of(session, assignment)
    if score is not None:
        return score
    _check_reviewer(user, assignment)
    if assignment.task.status == "closed":
        raise Conflict("抽查任务已结束")
    standard_row = assignment.task.standard
    standard = standards.standard_of(standard_row)
    score = FinalScore(record_id=assignment.record_id, task_id=assignment.task_id, standard_id=standard_row.id,
                       reviewer_id=user.id, total=standard.points, status="draft",
                       grade=rules.grade_of(standard.points, standard.thresholds))
    session.add(score)
    for proposal in proposals(session, standard, assignment.record_id):
        score.deductions.append(ScoreDeduction(item_code=proposal.item_code, document_id=proposal.document_id,
                                               page=proposal.page, note=proposal.note[:MAX_NOTE],
                                               source=proposal.source, state="proposed"))
    session.flush()
    _recompute(score, standard)
    record_event(session, actor, "scoring.open", object_type="final_score", object_id=score.id,
                 record_id=assignment.record_id, detail={"任务": assignment.task.name,
                                                         "建议扣分": len(score.deductions)})
    return score


def score_of(session: Session, assignment: ScoringTaskRecord) -> FinalScore | None:
    return session.scalars(sa.select(FinalScore).where(FinalScore.task_id == assignment.task_id,
                                                       FinalScore.record_id == assignment.record_id)
                           .options(selectinload(FinalScore.deductions).selectinload(ScoreDeduction.document))
                           ).first()


def get(session: Session, score_id: int) -> FinalScore:
    score = session.get(FinalScore, score_id)
    if score is None:
        raise NotFound("评分不存在")
    return score


def add_deduction(session: Session, actor: Actor, user: User, score: FinalScore, item_code: str, times: int,
                  document_id: int | None, page: int | None, note: str) -> ScoreDeduction:
    """A manual deduction: an item of the score's standard, on a document of the record (and a page)."""
    _check_draft(user, score)
    standard = standards.standard_of(score.standard)
    item = standard.item(item_code)
    if item is None:
        raise Refusal("请选择评分标准中的扣分项")
    if not 1 <= times <= MAX_TIMES:
        raise Refusal(f"扣分次数应在 1 到 {MAX_TIMES} 之间")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise Refusal(f"说明不能超过{MAX_NOTE}字")
    if not document_id:
        raise Refusal("请选择扣分所在的文书")
    document = session.get(Document, document_id)
    if document is None or document.record_id != score.record_id or document.removed:
        raise Refusal("该文书不属于此病案")
    if page is not None:
        version = session.get(Version, document.current_version_id) if document.current_version_id else None
        pages = version.page_count if version else 0
        if not 1 <= page <= max(pages, 1):
            raise Refusal(f"第{page}页不存在（该文书共{pages}页）")
    deduction = ScoreDeduction(item_code=item.code, times=times, document_id=document.id, page=page, note=note,
                               source="manual", state="accepted")
    score.deductions.append(deduction)
    session.flush()
    _recompute(score, standard)
    _audit(session, actor, score, "deduct", {"扣分项": f"{item.code} {item.text}", "次数": times,
                                            "文书": document.title, "页": page, "说明": note},
           document_id=document.id, page=page)
    return deduction


def decide(session: Session, actor: Actor, user: User, score: FinalScore, deduction_id: int, accept: bool) -> None:
    """Accept (counts) or dismiss (does not) a proposed deduction; a decision may be changed in the draft."""
    _check_draft(user, score)
    deduction = _deduction(score, deduction_id)
    if deduction.source == "manual":
        raise Refusal("人工扣分请直接删除")
    deduction.state = "accepted" if accept else "dismissed"
    _recompute(score, standards.standard_of(score.standard))
    _audit(session, actor, score, "accept" if accept else "dismiss",
           {"扣分项": deduction.item_code, "来源": SOURCE_NAMES[deduction.source], "说明": deduction.note})


def remove_deduction(session: Session, actor: Actor, user: User, score: FinalScore, deduction_id: int) -> None:
    _check_draft(user, score)
    deduction = _deduction(score, deduction_id)
    if deduction.source != "manual":
        raise Refusal("系统建议的扣分不能删除，请选择“忽略”")
    score.deductions.remove(deduction)
    session.flush()
    _recompute(score, standards.standard_of(score.standard))
    _audit(session, actor, score, "undeduct", {"扣分项": deduction.item_code, "说明": deduction.note})


def save_note(session: Session, actor: Actor, user: User, score: FinalScore, note: str) -> None:
    _check_draft(user, score)
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise Refusal(f"评语不能超过{MAX_NOTE}字")
    score.note = note


def submit(session: Session, actor: Actor, user: User, score: FinalScore) -> rules.Outcome:
    """提交: the score becomes final (no more changes); every proposal must be decided first."""
    _check_draft(user, score)
    undecided = [d for d in score.deductions if d.state == "proposed"]
    if undecided:
        raise Refusal(f"还有{len(undecided)}条系统建议扣分未确认：请逐条选择“扣分”或“忽略”")
    outcome = _recompute(score, standards.standard_of(score.standard))
    score.status, score.scored_at = "final", utcnow()
    _audit(session, actor, score, "submit", {"总分": outcome.total, "等级": outcome.grade,
                                            "扣分条数": len(counted(score)),
                                            "单项否决": list(outcome.vetoes)})
    return outcome


def counted(score: FinalScore) -> list[ScoreDeduction]:
    return [d for d in score.deductions if d.state == "accepted"]


def outcome_of(score: FinalScore) -> rules.Outcome:
    return rules.compute(standards.standard_of(score.standard), [(d.item_code, d.times) for d in counted(score)])


def _recompute(score: FinalScore, standard: rules.Standard) -> rules.Outcome:
    outcome = rules.compute(standard, [(d.item_code, d.times) for d in counted(score)])
    score.total, score.grade = outcome.total, outcome.grade
    return outcome


def _deduction(score: FinalScore, deduction_id: int) -> ScoreDeduction:
    found = next((d for d in score.deductions if d.id == deduction_id), None)
    if found is None:
        raise NotFound("扣分记录不存在")
    return found


def _check_reviewer(user: User, assignment: ScoringTaskRecord) -> None:
    if assignment.reviewer_id != user.id:
        raise Refusal(f"该病案已分配给{assignment.reviewer.full_name or assignment.reviewer.username}评分")


def _check_draft(user: User, score: FinalScore) -> None:
    if score.status == "final":
        raise Conflict("评分已提交，不能再修改；如需重新评分请建立新的抽查任务")
    if score.reviewer_id != user.id:
        raise Refusal("只能修改自己的评分")


def _audit(session: Session, actor: Actor, score: FinalScore, action: str, detail: dict, **fields) -> None:
    record_event(session, actor, f"scoring.{action}", object_type="final_score", object_id=score.id,
                 record_id=score.record_id, detail=detail, **fields)
