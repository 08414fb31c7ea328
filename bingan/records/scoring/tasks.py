"""Sampling tasks (抽查任务): a rule draws discharged records — discharge department(s), discharge
month (the hospital's calendar), record kind, a percentage or a number — at random with a seed kept
on the task, so the same rule and seed draw the same records again; the drawn records are dealt
round-robin to the chosen reviewers (holders of scoring.review); progress is scored/total per
reviewer."""
from __future__ import annotations

import math
import random
import re
import secrets
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.access.policy import load_subject
from bingan.errors import NotFound, Refusal
from bingan.records.scoring import standards
from bingan.storage.models import Department, Record, User
from bingan.storage.models.scoring import FinalScore, ScoringTask, ScoringTaskRecord

KINDS = {"": "全部", "normal": "普通", "death": "死亡", "special": "特殊"}
VISIT_TYPES = {"inpatient": "住院", "outpatient": "门诊"}
MAX_DRAW = 2000
MAX_SEED = 2**31 - 1
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
REVIEW_PERMISSION = "scoring.review"


@dataclass(frozen=True)
class Rule:
    month: str  # YYYY-MM, discharge month in the hospital's time
    departments: tuple[str, ...] = ()  # discharge department codes; () = every department
    kind: str = ""  # Record.kind; "" = every kind
    visit_type: str = "inpatient"
    percent: float | None = None
    count: int | None = None

    def as_json(self) -> dict:
        return {"month": self.month, "departments": list(self.departments), "kind": self.kind,
                "visit_type": self.visit_type, "percent": self.percent, "count": self.count}

    @classmethod
    def of(cls, data: dict) -> Rule:
        return cls(data.get("month", ""), tuple(data.get("departments") or ()), data.get("kind", ""),
                   data.get("visit_type", "inpatient"), data.get("percent"), data.get("count"))


def checked_rule(month: str, departments: list[str], kind: str, visit_type: str, percent: float | None,
                 count: int | None) -> Rule:
    found = MONTH.match(month or "")
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise Refusal("请按“年-月”填写出院月份，如 2026-11")
    if kind not in KINDS:
        raise Refusal("病案类型应为普通、死亡或特殊（或全部）")
    if visit_type not in VISIT_TYPES:
        raise Refusal("就诊类型应为住院或门诊")
    if (percent is None) == (count is None):
        raise Refusal("请填写抽取比例或抽取份数（二选一）")
    if percent is not None and not 0 < percent <= 100:
        raise Refusal("抽取比例应在 0 到 100% 之间")
    if count is not None and not 1 <= count <= MAX_DRAW:
        raise Refusal(f"抽取份数应在 1 到 {MAX_DRAW} 之间")
    codes = tuple(sorted({code.strip() for code in departments if code and code.strip()}))
    return Rule(month, codes, kind, visit_type, percent, count)


def month_bounds(month: str) -> tuple:
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    following = date(year + (number == 12), number % 12 + 1, 1)
    return clock.day_start(first), clock.day_start(following)


def candidates(session: Session, rule: Rule) -> list[int]:
    """Ids of the discharged records the rule covers, in id order (the draw's stable base)."""
    start, end = month_bounds(rule.month)
    query = sa.select(Record.id).where(Record.discharged_at.is_not(None), Record.discharged_at >= start,
                                       Record.discharged_at < end, Record.visit_type == rule.visit_type)
    if rule.kind:
        query = query.where(Record.kind == rule.kind)
    if rule.departments:
        query = query.where(Record.discharge_department_id.in_(
            sa.select(Department.id).where(Department.code.in_(rule.departments))))
    return list(session.scalars(query.order_by(Record.id)))


def draw(session: Session, rule: Rule, seed: int) -> list[int]:
    """The records drawn for ``rule`` with ``seed``: the same arguments draw the same ids (in draw order)."""
    base = candidates(session, rule)
    if rule.count is not None:
        wanted = min(rule.count, len(base))
    else:
        wanted = min(len(base), max(1, math.ceil(len(base) * (rule.percent or 0) / 100))) if base else 0
    return random.Random(seed).sample(base, wanted)


def reviewers_of(session: Session, user_ids: list[int]) -> list[User]:
    """The chosen reviewers, each active and holding scoring.review; Refusal naming any who is not."""
    if not user_ids:
        raise Refusal("请至少选择一名评分人")
    users = {user.id: user for user in session.scalars(sa.select(User).where(User.id.in_(set(user_ids))))}
    chosen = []
    for user_id in dict.fromkeys(user_ids):
        user = users.get(user_id)
        if user is None or not user.active:
            raise Refusal("所选评分人不存在或已停用")
        if REVIEW_PERMISSION not in load_subject(session, user).permissions:
            raise Refusal(f"{user.full_name or user.username}没有终末质控评分权限")
        chosen.append(user)
    return chosen


def eligible_reviewers(session: Session) -> list[User]:
    users = session.scalars(sa.select(User).where(User.active).order_by(User.id)).all()
    return [user for user in users if REVIEW_PERMISSION in load_subject(session, user).permissions]


def create(session: Session, actor: Actor, user: User | None, name: str, rule: Rule, reviewer_ids: list[int],
           seed: int | None = None, standard_id: int | None = None) -> ScoringTask:
    """A task over the records ``rule`` draws with ``seed`` (a fresh one if none), dealt in turn to
    the reviewers; scored against ``standard_id`` or the current standard."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Refusal("请填写任务名称（不超过100字）")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise Refusal("随机种子应为 0 到 2147483647 之间的整数")
    reviewers = reviewers_of(session, reviewer_ids)
    standard = standards.get(session, standard_id) if standard_id else standards.current(session)
    seed = secrets.randbelow(MAX_SEED) if seed is None else seed
    drawn = draw(session, rule, seed)
    if not drawn:
        raise Refusal(f"{rule.month} 没有符合条件的出院病案")
    task = ScoringTask(name=name, standard_id=standard.id, rule=rule.as_json(), seed=seed,
                       reviewer_ids=[r.id for r in reviewers], created_by_id=user.id if user else None)
    session.add(task)
    session.flush()
    for seq, record_id in enumerate(drawn):
        session.add(ScoringTaskRecord(task_id=task.id, record_id=record_id, seq=seq,
                                      reviewer_id=reviewers[seq % len(reviewers)].id))
    session.flush()
    record_event(session, actor, "scoring.task_create", object_type="scoring_task", object_id=task.id,
                 detail={"任务": name, "规则": rule.as_json(), "随机种子": seed, "抽取": len(drawn),
                         "评分标准": f"{standard.name} 第{standard.version}版",
                         "评分人": [r.full_name or r.username for r in reviewers]})
    return task


def get(session: Session, task_id: int) -> ScoringTask:
    task = session.get(ScoringTask, task_id)
    if task is None:
        raise NotFound("抽查任务不存在")
    return task


def close(session: Session, actor: Actor, task: ScoringTask) -> None:
    if task.status == "closed":
        return
    task.status = "closed"
    record_event(session, actor, "scoring.task_close", object_type="scoring_task", object_id=task.id,
                 detail={"任务": task.name})


@dataclass(frozen=True)
class Progress:
    reviewer: User
    scored: int
    total: int


def progress(session: Session, task: ScoringTask) -> list[Progress]:
    """Scored (final) / assigned, per reviewer."""
    finals = sa.select(FinalScore.record_id).where(FinalScore.task_id == task.id, FinalScore.status == "final")
    rows = session.execute(
        sa.select(ScoringTaskRecord.reviewer_id, sa.func.count(),
                  sa.func.sum(sa.case((ScoringTaskRecord.record_id.in_(finals), 1), else_=0)))
        .where(ScoringTaskRecord.task_id == task.id).group_by(ScoringTaskRecord.reviewer_id)).all()
    users = {u.id: u for u in session.scalars(sa.select(User).where(User.id.in_([r[0] for r in rows])))}
    return sorted((Progress(users[r[0]], int(r[2] or 0), int(r[1])) for r in rows), key=lambda p: p.reviewer.id)


@dataclass(frozen=True)
class Entry:
    assignment: ScoringTaskRecord
    score: FinalScore | None


def entries(session: Session, task: ScoringTask, reviewer_id: int | None = None) -> list[Entry]:
    query = (sa.select(ScoringTaskRecord).where(ScoringTaskRecord.task_id == task.id)
             .options(selectinload(ScoringTaskRecord.record).selectinload(Record.patient),
                      selectinload(ScoringTaskRecord.record).selectinload(Record.discharge_department),
                      selectinload(ScoringTaskRecord.reviewer))
             .order_by(ScoringTaskRecord.seq))
    if reviewer_id:
        query = query.where(ScoringTaskRecord.reviewer_id == reviewer_id)
    assignments = list(session.scalars(query))
    scores = {s.record_id: s for s in session.scalars(sa.select(FinalScore).where(FinalScore.task_id == task.id))}
    return [Entry(a, scores.get(a.record_id)) for a in assignments]


def listing(session: Session) -> list[tuple[ScoringTask, int, int]]:
    """Every task, newest first, with (scored, total)."""
    tasks = list(session.scalars(sa.select(ScoringTask).options(selectinload(ScoringTask.standard))
                                 .order_by(ScoringTask.id.desc()).limit(500)))
    totals = dict(session.execute(sa.select(ScoringTaskRecord.task_id, sa.func.count())
                                  .group_by(ScoringTaskRecord.task_id)).all())
    scored = dict(session.execute(sa.select(FinalScore.task_id, sa.func.count()).where(FinalScore.status == "final")
                                  .group_by(FinalScore.task_id)).all())
    return [(task, scored.get(task.id, 0), totals.get(task.id, 0)) for task in tasks]


def assignment(session: Session, task_id: int, record_id: int) -> ScoringTaskRecord:
    found = session.scalars(sa.select(ScoringTaskRecord).where(ScoringTaskRecord.task_id == task_id,
                                                               ScoringTaskRecord.record_id == record_id)).first()
    if found is None:
        raise NotFound("该病案不在此抽查任务中")
    return found
