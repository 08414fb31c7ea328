"""Archive QC (归档质控) commands: take a submitted record, comment by document and page, return it
to its owners, the owners' replies and resubmission, pass (one step of the campus's archive_qc
flow; the last step archives the record), batch pass.

A record's QC runs through the steps of the first archive_qc flow matching it (flows are data per
campus, edited on /admin/flows: e.g. 科室自查 then 病案室质控). The approval engine's request/
applicant model does not fit — a record is submitted by the EMR as often as by a doctor, and a
return goes to whoever the comments concern — so QC keeps its own review row and uses the flow's
steps for who may act at each step (``flows.resolve_approvers``). Every change writes its audit
event in the caller's transaction; the record's status moves only through ``lifecycle.move``.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.access.policy import Subject, decide_for, load_subject, record_department
from bingan.errors import Conflict, NotFound, Refusal
from bingan.records import lifecycle
from bingan.records.approvals.flows import choose_flow, may_act, resolve_approvers
from bingan.records.approvals.notifier import notify
from bingan.records.completeness.checks import latest_run
from bingan.storage.models import Document, Record, Role, User, Version, utcnow
from bingan.storage.models.qc import COMMENT_KINDS, QcComment, QcReturn, QcReturnOwner, QcReview

MAX_TEXT = 2000
MAX_BATCH = 200
KIND = "archive_qc"
# The owners of a medical comment: the record's doctors (主治/住院医师 by name) and the head of
# its department — the approval flows' own words for them.
MEDICAL_OWNERS = {"approvers": [{"kind": "doctors", "value": ""}, {"kind": "head", "value": ""}]}


# --- reading the state ------------------------------------------------------------------------

def current_review(session: Session, record_id: int) -> QcReview | None:
    """The review not yet passed (open or returned), if the record is in QC at all."""
    return session.scalars(sa.select(QcReview).where(QcReview.record_id == record_id, QcReview.status != "passed")
                           .order_by(QcReview.id.desc()).limit(1)).first()


def unsent_comments(session: Session, review: QcReview) -> list[QcComment]:
    return list(session.scalars(sa.select(QcComment).where(QcComment.review_id == review.id,
                                                           QcComment.return_id.is_(None))
                                .order_by(QcComment.id)))


def open_return(session: Session, record_id: int) -> QcReturn | None:
    """The return the owners have not answered yet."""
    return session.scalars(sa.select(QcReturn).where(QcReturn.record_id == record_id,
                                                     QcReturn.resubmitted_at.is_(None))
                           .order_by(QcReturn.id.desc()).limit(1)).first()


def step_name(review: QcReview | None) -> str:
    if review is None or not review.steps:
        return ""
    return review.steps[min(review.current_step, len(review.steps) - 1)].get("name", "")


def may_review(session: Session, user: User, record: Record, review: QcReview | None) -> bool:
    """Named by the current step of the record's QC flow (or of the flow it would start)."""
    steps = review.steps if review is not None else _flow(session, record)[1]
    step = steps[review.current_step if review is not None else 0]
    return any(named.id == user.id for named in resolve_approvers(session, step, record, applicant_id=0))


# --- the reviewer's commands ------------------------------------------------------------------

def take(session: Session, actor: Actor, user: User, record: Record) -> QcReview:
    """开始质控: a submitted record moves to 质控中 and onto this reviewer's worklist ("mine")."""
    if record.status not in ("submitted", "qc"):
        raise Conflict(f"病案当前状态为“{lifecycle.state_name(record.status)}”，不在质控环节")
    review = current_review(session, record.id) or _start(session, record)
    if not may_review(session, user, record, review):
        raise Refusal(f"您不是该病案当前质控步骤“{step_name(review)}”的审核人")
    if record.status == "submitted":
        lifecycle.move(session, actor, record, "qc", f"{user.full_name or user.username}开始质控")
    if review.assigned_to_id != user.id:
        review.assigned_to_id = user.id
        _audit(session, actor, record, "take", {"步骤": step_name(review)})
    review.status = "open"
    return review


def comment(session: Session, actor: Actor, user: User, record: Record, document_id: int, page: int,
            kind: str, text: str) -> QcComment:
    """质控意见 on one page of one of the record's documents."""
    if kind not in COMMENT_KINDS:
        raise Refusal("意见类型应为 medical（医疗）或 nursing（护理）")
    text = text.strip()
    if not text:
        raise Refusal("请填写质控意见")
    if len(text) > MAX_TEXT:
        raise Refusal(f"质控意见不能超过{MAX_TEXT}字")
    document = session.get(Document, document_id)
    if document is None or document.record_id != record.id or document.removed:
        raise Refusal("该文书不属于此病案")
    version = session.get(Version, document.current_version_id) if document.current_version_id else None
    pages = version.page_count if version is not None else 0
    if page < 1 or page > max(pages, 1):
        raise Refusal(f"第{page}页不存在（该文书共{pages}页）")
    review = take(session, actor, user, record)
    found = QcComment(record_id=record.id, review_id=review.id, document_id=document.id,
                      version_id=version.id if version else None, page=page, kind=kind, text=text,
                      step=review.current_step, author_id=user.id)
    session.add(found)
    session.flush()
    _audit(session, actor, record, "comment", {"文书": document.title, "页": page, "类型": COMMENT_KINDS[kind],
                                               "意见": text}, document_id=document.id, page=page)
    return found


def delete_comment(session: Session, actor: Actor, user: User, record: Record, comment_id: int) -> None:
    """An unsent comment may be taken back by its author."""
    found = session.get(QcComment, comment_id)
    if found is None or found.record_id != record.id:
        raise NotFound("质控意见不存在")
    if found.return_id is not None:
        raise Conflict("该意见已随退回发出，不能删除")
    if found.author_id != user.id:
        raise Refusal("只能删除自己填写的意见")
    _audit(session, actor, record, "comment_delete", {"意见": found.text})
    session.delete(found)


def return_record(session: Session, actor: Actor, user: User, record: Record) -> QcReturn:
    """退回: the unsent comments go to their owners — medical to the doctors and the head of
    department, nursing to the ward's nurses — each told in their inbox; 质控中 → 已退回."""
    review = take(session, actor, user, record)
    comments = unsent_comments(session, review)
    if not comments:
        raise Refusal("退回前请至少填写一条质控意见")
    owners = route(session, record, {found.kind for found in comments})
    if not owners:
        raise Refusal("找不到该病案的经治医师、科主任或病区护士，无法退回；请核对病案首页的医师姓名和科室人员")
    lifecycle.move(session, actor, record, "returned", f"质控意见{len(comments)}条")
    returned = QcReturn(record_id=record.id, review_id=review.id, step=review.current_step, returned_by_id=user.id,
                        owners=[QcReturnOwner(user_id=owner.id, kinds=sorted(kinds))
                                for owner, kinds in owners.values()])
    session.add(returned)
    session.flush()
    for found in comments:
        found.return_id = returned.id
    review.status, review.assigned_to_id = "returned", user.id  # the resubmission comes back to them
    for owner, kinds in owners.values():
        notify(session, owner, "return",
               f"病案 {record.record_number}（{record.patient.name}）被质控退回，请修改后重新提交",
               body="；".join(f"{COMMENT_KINDS[c.kind]}：{c.text}" for c in comments if c.kind in kinds),
               link=f"/qc/returned/{record.id}")
    _audit(session, actor, record, "return", {"意见数": len(comments), "退回给": [
        owner.full_name or owner.username for owner, _kinds in owners.values()]})
    return returned


def route(session: Session, record: Record, kinds: set[str]) -> dict[int, tuple[User, set[str]]]:
    """Who a return with comments of ``kinds`` goes to: user id → (user, the kinds that reach them)."""
    found: dict[int, tuple[User, set[str]]] = {}
    named = {"medical": lambda: resolve_approvers(session, MEDICAL_OWNERS, record, applicant_id=0),
             "nursing": lambda: ward_nurses(session, record)}
    for kind in sorted(kinds):
        for user in named[kind]():
            found.setdefault(user.id, (user, set()))[1].add(kind)
    return found


def ward_nurses(session: Session, record: Record) -> list[User]:
    """Active users with the nurse role in the record's (discharge) department who may open it."""
    department = record_department(record)
    if department is None:
        return []
    users = session.scalars(sa.select(User).join(User.roles).where(
        User.active, Role.code == "nurse", User.department_id == department.id).order_by(User.id))
    return [user for user in users if may_act(session, user, record)]


@dataclass(frozen=True)
class Passed:
    review: QcReview
    archived: bool  # False: passed one step, the next step's reviewers go on


def pass_refusal(session: Session, user: User, record: Record, override_reason: str = "") -> Refusal | None:
    """Why ``user`` may not pass ``record`` now, or None: asked before anything changes, so a batch
    needs no savepoints (the audit sealer would take a SAVEPOINT's release for a commit)."""
    if record.status not in ("submitted", "qc"):
        return Conflict(f"病案当前状态为“{lifecycle.state_name(record.status)}”，不在质控环节")
    review = current_review(session, record.id)
    if not may_review(session, user, record, review):
        return Refusal(f"您不是该病案当前质控步骤“{step_name(review) or _flow(session, record)[1][0]['name']}”的审核人")
    pending = unsent_comments(session, review) if review is not None else []
    if pending:
        return Refusal(f"还有{len(pending)}条质控意见未退回：请退回病案，或删除这些意见后再通过")
    errors = _self_check_errors(session, record)
    if errors and not override_reason.strip():
        return Refusal(f"系统自检有{errors}项错误，不能通过；确需归档请填写强制通过理由")
    return None


def pass_record(session: Session, actor: Actor, user: User, record: Record, override_reason: str = "") -> Passed:
    """通过: the last step of the flow archives the record (qc → archived, archived_at, and who in
    the review and the audit trail). Refused while the latest self-check has errors, unless the
    reviewer writes why the record may be archived all the same (kept on the review, audited)."""
    refusal = pass_refusal(session, user, record, override_reason)
    if refusal is not None:
        raise refusal
    review = take(session, actor, user, record)
    override_reason = override_reason.strip()[:MAX_TEXT] if _self_check_errors(session, record) else ""
    detail = {"步骤": step_name(review), **({"强制通过理由": override_reason} if override_reason else {})}
    if review.current_step + 1 < len(review.steps):
        review.current_step, review.assigned_to_id = review.current_step + 1, None
        _audit(session, actor, record, "pass_step", {**detail, "下一步": step_name(review)})
        return Passed(review, archived=False)
    lifecycle.move(session, actor, record, "archived", "质控通过")
    review.status, review.finished_at, review.passed_by_id = "passed", utcnow(), user.id
    review.override_reason = override_reason
    _audit(session, actor, record, "pass", detail)
    return Passed(review, archived=True)


def batch_pass(session: Session, actor: Actor, user: User, record_ids: list[int]) -> list[dict]:
    """批量通过: each record whose latest self-check passed; a record refused changes nothing and
    stops none of the others."""
    if not record_ids:
        raise Refusal("请选择要通过的病案")
    if len(record_ids) > MAX_BATCH:
        raise Refusal(f"一次最多批量通过{MAX_BATCH}份病案")
    subject = load_subject(session, user)
    return [_batch_one(session, actor, user, subject, record_id) for record_id in dict.fromkeys(record_ids)]


def _batch_one(session: Session, actor: Actor, user: User, subject: Subject, record_id: int) -> dict:
    refused = {"record_id": record_id, "ok": False}
    record = session.get(Record, record_id)
    if record is None:
        return refused | {"message": "病案不存在"}
    gate = decide_for(subject, "qc", record)
    if not gate:
        return refused | {"message": gate.reason_zh}
    refusal = pass_refusal(session, user, record)
    if refusal is not None:
        return refused | {"message": refusal.message}
    check = latest_run(session, record.id)
    if check is None or not check.passed:
        return refused | {"message": "系统自检未通过或尚未自检，不能批量通过，请逐份审核"}
    passed = pass_record(session, actor, user, record)
    message = "已归档" if passed.archived else f"已通过，进入“{step_name(passed.review)}”"
    return {"record_id": record_id, "ok": True, "message": message, "status": record.status}


# --- the owners' side -------------------------------------------------------------------------

def reply(session: Session, actor: Actor, user: User, record: Record, replies: list[tuple[int, str]]) -> int:
    """整改说明: what an owner fixed, per comment of the open return; returns how many were saved."""
    if record.status != "returned":
        raise Conflict(f"病案当前状态为“{lifecycle.state_name(record.status)}”，没有待答复的质控意见")
    returned = open_return(session, record.id)
    _check_owner(session, user, record, returned)
    comments = {found.id: found for found in session.scalars(
        sa.select(QcComment).where(QcComment.return_id == returned.id))}
    saved = 0
    for comment_id, text in replies:
        found = comments.get(comment_id)
        if found is None:
            raise Refusal(f"质控意见 {comment_id} 不属于此次退回")
        text = text.strip()
        if len(text) > MAX_TEXT:
            raise Refusal(f"整改说明不能超过{MAX_TEXT}字")
        if not text:
            continue
        found.reply, found.replied_by_id, found.replied_at = text, user.id, utcnow()
        saved += 1
    if saved:
        _audit(session, actor, record, "reply", {"答复条数": saved})
    return saved


def resubmit(session: Session, actor: Actor, user: User, record: Record,
             replies: list[tuple[int, str]] | None = None) -> QcReview | None:
    """修改后重新提交: every comment of the return answered, 已退回 → 待质控, straight back to the
    reviewer who returned it. A recalled record (召回中) goes back to 待质控 too, replies optional."""
    if record.status == "recalled":
        lifecycle.move(session, actor, record, "submitted", "召回修改完成")
        _audit(session, actor, record, "resubmit", {"来源": "召回"})
        return None
    if record.status != "returned":
        raise Conflict(f"病案当前状态为“{lifecycle.state_name(record.status)}”，不能重新提交")
    reply(session, actor, user, record, replies or [])
    returned = open_return(session, record.id)
    waiting = session.scalars(sa.select(QcComment).where(QcComment.return_id == returned.id, QcComment.reply == "")
                              .order_by(QcComment.id)).all()
    if waiting:
        raise Refusal(f"还有{len(waiting)}条质控意见未填写整改说明（第一条：{waiting[0].text[:30]}）")
    lifecycle.move(session, actor, record, "submitted", "按质控意见修改后重新提交")
    returned.resubmitted_at, returned.resubmitted_by_id = utcnow(), user.id
    review = session.get(QcReview, returned.review_id)
    review.status = "open"
    notify(session, returned.returned_by, "resubmit",
           f"您退回的病案 {record.record_number}（{record.patient.name}）已修改并重新提交", link=f"/qc/{record.id}")
    _audit(session, actor, record, "resubmit", {"质控员": returned.returned_by.full_name})
    return review


def _check_owner(session: Session, user: User, record: Record, returned: QcReturn | None) -> None:
    """An owner of the return, or whoever may submit the record (a doctor of its department)."""
    if returned is None:
        raise Conflict("没有待答复的质控退回")
    owners = {owner.user_id for owner in returned.owners}
    if user.id not in owners and not decide_for(load_subject(session, user), "submit", record):
        raise Refusal("该病案不是退回给您的")


# --- the pieces -------------------------------------------------------------------------------

def _flow(session: Session, record: Record) -> tuple[str, list[dict]]:
    flow = choose_flow(session, KIND, record, set())
    return flow.name, [dict(step) for step in flow.steps]


def _start(session: Session, record: Record) -> QcReview:
    name, steps = _flow(session, record)
    review = QcReview(record_id=record.id, flow_name=name, steps=steps, current_step=0, status="open")
    session.add(review)
    session.flush()
    return review


def _self_check_errors(session: Session, record: Record) -> int:
    check = latest_run(session, record.id)
    return check.errors if check is not None else 0


def _audit(session: Session, actor: Actor, record: Record, action: str, detail: dict, **fields) -> None:
    record_event(session, actor, f"qc.{action}", object_type="record", object_id=record.id, record_id=record.id,
                 detail=detail, **fields)
