"""The demo's final-QC sampling task (终末质控抽查): every discharged record of the month in which
the first record still in QC (with its unsent comments) was discharged, drawn with seed 2026 and
given to the QC office's demo account; the archived records of the task are scored (each proposal
accepted, submitted) so the final-QC list shows grades, and the rest are left to score — the record
in QC among them, whose unanswered comments are proposed as deductions. Once only: a second load
leaves an existing task alone."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit import Actor
from bingan.ingest.demo.archiving import People
from bingan.records.scoring import service, tasks
from bingan.storage.models import Record
from bingan.storage.models.scoring import ScoringTask, ScoringTaskRecord

SEED = 2026
TO_SCORE = 3  # archived records of the task scored by the demo


def sample(session: Session, people: People | None, records: list[Record]) -> ScoringTask | None:
    if people is None or session.scalar(sa.select(sa.func.count()).select_from(ScoringTask)):
        return None
    in_qc = next((r for r in records if r.status == "qc" and r.discharged_at), None)
    if in_qc is None:
        return None
    month = f"{clock.local_date(in_qc.discharged_at):%Y-%m}"
    reviewer = people.reviewer
    task = tasks.create(session, Actor.of(people.archivist), people.archivist, f"{month} 终末质控抽查（演示）",
                        tasks.Rule(month=month, percent=100), [reviewer.id], seed=SEED)
    actor = Actor.of(reviewer)
    assigned = session.scalars(sa.select(ScoringTaskRecord).where(ScoringTaskRecord.task_id == task.id)
                               .order_by(ScoringTaskRecord.seq)).all()
    for assignment in [a for a in assigned if a.record.status == "archived"][:TO_SCORE]:
        score = service.open_score(session, actor, reviewer, assignment)
        for deduction in list(score.deductions):
            service.decide(session, actor, reviewer, score, deduction.id, accept=True)
        service.submit(session, actor, reviewer, score)
    return task
