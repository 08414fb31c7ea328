"""Final-QC scoring's specification on SQLite and PostgreSQL: the shipped standard stored once,
versions that old scores keep, sampling by rule with a reproducible seed, round-robin reviewers and
progress, proposals from the self-checks and QC comments (never counted until accepted), manual
deductions naming a document, final submission, the record's latest grade."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from scoring_support import actor, discharged
from world import add_pdf_document

from bingan.errors import Conflict, Refusal
from bingan.records.scoring import finals, service, standards, tasks
from bingan.storage.models import AuditEvent, Document
from bingan.storage.models.completeness import CheckFinding, CheckRun
from bingan.storage.models.scoring import FinalScore, ScoringStandard, ScoringTaskRecord

NOVEMBER = tasks.Rule(month="2026-11", count=4)


def _task(session, world, rule=NOVEMBER, seed=7, reviewers=("qc",), name="11月终末质控抽查"):
    task = tasks.create(session, actor(world.users["archivist"]), world.users["archivist"], name, rule,
                        [world.users[r].id for r in reviewers], seed=seed)
    session.commit()
    return task


def _assigned(session, task):
    return session.scalars(sa.select(ScoringTaskRecord).where(ScoringTaskRecord.task_id == task.id)
                           .order_by(ScoringTaskRecord.seq)).all()


# --- standards ----------------------------------------------------------------------------------

def test_the_shipped_standard_is_stored_once_as_version_1(session, world):
    first = standards.current(session)
    session.commit()
    again = standards.current(session)
    assert first.id == again.id and first.version == 1 and first.origin == "default"
    assert session.scalar(sa.select(sa.func.count()).select_from(ScoringStandard)) == 1
    assert standards.standard_of(first).points == 100


def test_editing_makes_a_new_version_and_old_scores_keep_theirs(session, world, month):
    task = _task(session, world)
    qc = world.users["qc"]
    score = service.open_score(session, actor(qc), qc, _assigned(session, task)[0])
    session.commit()
    old = score.standard_id
    edited = standards.edit_thresholds(session, actor(world.users["archivist"]), world.users["archivist"], old, 85, 70)
    session.commit()
    assert edited.version == 2 and edited.current and edited.thresholds == {"甲": 85, "乙": 70}
    assert session.get(ScoringStandard, old).current is False
    assert session.get(FinalScore, score.id).standard_id == old  # the score keeps its version
    later = _task(session, world, name="第二次抽查", seed=8)
    assert later.standard_id == edited.id


# --- sampling -----------------------------------------------------------------------------------

def test_the_same_seed_draws_the_same_records(session, world, month):
    rule = tasks.Rule(month="2026-11", percent=50)
    assert tasks.draw(session, rule, 42) == tasks.draw(session, rule, 42)
    assert len(tasks.draw(session, rule, 42)) == 6


def test_a_different_seed_draws_different_records(session, world, month):
    rule = tasks.Rule(month="2026-11", count=4)
    assert tasks.draw(session, rule, 1) != tasks.draw(session, rule, 2)


def test_a_task_records_its_seed_so_the_draw_can_be_repeated(session, world, month):
    task = _task(session, world, seed=1234)
    drawn = [a.record_id for a in _assigned(session, task)]
    assert task.seed == 1234 and drawn == tasks.draw(session, tasks.Rule.of(task.rule), task.seed)


def test_the_rule_draws_by_department_kind_and_discharge_month_in_hospital_time(session, world, month):
    # 2026-11-30 17:00 UTC is 1 December in Beijing: not a November discharge.
    late = discharged(session, world, 40, discharged_at=datetime(2026, 11, 30, 17, 0, tzinfo=UTC))
    early = discharged(session, world, 41, discharged_at=datetime(2026, 10, 31, 16, 30, tzinfo=UTC))  # 11-01 00:30
    session.commit()
    every = set(tasks.candidates(session, tasks.Rule(month="2026-11", count=1)))
    assert late.id not in every and early.id in every
    respiratory = tasks.candidates(session, tasks.Rule(month="2026-11", departments=("0302",), count=1))
    assert respiratory == [r.id for r in month if r.discharge_department_id == world.respiratory.id]
    assert tasks.candidates(session, tasks.Rule(month="2026-11", kind="death", count=1)) == [month[4].id]


def test_records_not_yet_discharged_are_never_drawn(session, world, month):
    month[0].discharged_at = None
    session.commit()
    assert month[0].id not in tasks.candidates(session, tasks.Rule(month="2026-11", count=1))


def test_records_are_dealt_round_robin_and_progress_counts_final_scores(session, world, month):
    task = _task(session, world, reviewers=("qc", "archivist"))
    assigned = _assigned(session, task)
    assert [a.reviewer_id for a in assigned] == [world.users[r].id for r in ("qc", "archivist", "qc", "archivist")]
    qc = world.users["qc"]
    score = service.open_score(session, actor(qc), qc, assigned[0])
    service.submit(session, actor(qc), qc, score)
    session.commit()
    progress = {p.reviewer.username: (p.scored, p.total) for p in tasks.progress(session, task)}
    assert progress == {"u_qc": (1, 2), "u_archivist": (0, 2)}


@pytest.mark.parametrize(("reviewer", "why"), [("clinician", "没有终末质控评分权限")])
def test_a_reviewer_without_the_scoring_permission_is_refused(session, world, month, reviewer, why):
    with pytest.raises(Refusal, match=why):
        _task(session, world, reviewers=(reviewer,))


@pytest.mark.parametrize(("rule", "why"), [
    ({"month": "2026-13", "count": 3}, "出院月份"),
    ({"month": "2026-11"}, "二选一"),
    ({"month": "2026-11", "percent": 150}, "抽取比例"),
])
def test_a_malformed_rule_is_refused(rule, why):
    with pytest.raises(Refusal, match=why):
        tasks.checked_rule(rule["month"], [], "", "inpatient", rule.get("percent"), rule.get("count"))


def test_a_month_without_discharges_makes_no_task(session, world, month):
    with pytest.raises(Refusal, match="没有符合条件"):
        _task(session, world, rule=tasks.Rule(month="2025-01", count=3))


# --- scoring ------------------------------------------------------------------------------------

def _with_findings(session, world, record):
    document = Document(record_id=record.id, document_type_id=1, title="入院记录", source_system="EMR",
                        source_document_id="x")
    session.add(document)
    session.flush()
    run = CheckRun(record_id=record.id, trigger="submit", passed=False, errors=1, warnings=2)
    run.findings = [
        CheckFinding(seq=0, check="timeliness", severity="warning", message="入院记录未在入院后24小时内完成：晚3小时",
                     document_id=document.id),
        CheckFinding(seq=1, check="timeliness", severity="warning", message="查房记录未在规定时间内完成：晚1天"),
        CheckFinding(seq=2, check="front_page", severity="error", message="病案首页缺少联系人电话（A12）"),
        CheckFinding(seq=3, check="collection", severity="warning", message="与评分无关的发现"),
    ]
    session.add(run)
    session.commit()
    return document


def _first(session, world, task):
    assignment = _assigned(session, task)[0]
    qc = world.users["qc"]
    score = service.open_score(session, actor(qc), qc, assignment)
    session.commit()
    return qc, assignment, score


def test_self_check_findings_are_proposed_not_counted(session, world, month):
    task = _task(session, world)
    assignment = _assigned(session, task)[0]
    document = _with_findings(session, world, assignment.record)
    _qc, _assignment, score = _first(session, world, task)
    proposed = [(d.item_code, d.state, d.document_id) for d in score.deductions]
    standard = standards.standard_of(score.standard)
    texts = [standard.item(code).text for code, _state, _doc in proposed]
    assert [state for _c, state, _d in proposed] == ["proposed"] * 3
    assert texts == ["入院记录未在患者入院后24小时内完成", "记录未按规定时限完成（每处）",
                     "首页必填项目缺项或填写错误（每项）"]
    assert proposed[0][2] == document.id
    assert score.total == 100 and score.grade == "甲"  # nothing counted before the reviewer decides


def test_an_accepted_proposal_counts_and_a_dismissed_one_does_not(session, world, month):
    task = _task(session, world)
    _with_findings(session, world, _assigned(session, task)[0].record)
    qc, _assignment, score = _first(session, world, task)
    veto, late, front = score.deductions
    service.decide(session, actor(qc), qc, score, front.id, accept=True)
    service.decide(session, actor(qc), qc, score, late.id, accept=False)
    assert score.total == 99.5
    service.decide(session, actor(qc), qc, score, veto.id, accept=True)
    assert score.total == 89.5 and score.grade == "乙"  # 单项否决: 10 off the total


def test_unanswered_qc_comments_are_proposed(session, world, month):
    from bingan.storage.models.qc import QcComment, QcReview

    task = _task(session, world)
    record = _assigned(session, task)[0].record
    doc = _with_findings(session, world, record)
    review = QcReview(record_id=record.id, status="passed")
    session.add(review)
    session.flush()
    session.add_all([QcComment(record_id=record.id, review_id=review.id, document_id=doc.id, page=2, kind="medical",
                               text="主诉与现病史不符", author_id=world.users["qc"].id),
                     QcComment(record_id=record.id, review_id=review.id, document_id=doc.id, page=1, kind="medical",
                               text="已整改的意见", author_id=world.users["qc"].id, reply="已修改")])
    session.commit()
    _qc, _assignment, score = _first(session, world, task)
    from_comments = [d for d in score.deductions if d.source == "qc_comment"]
    assert [(d.note, d.page) for d in from_comments] == [("质控意见：主诉与现病史不符", 2)]


def test_a_manual_deduction_names_a_document_of_the_record(session, world, month):
    task = _task(session, world)
    qc, assignment, score = _first(session, world, task)
    with pytest.raises(Refusal, match="请选择扣分所在的文书"):
        service.add_deduction(session, actor(qc), qc, score, "1.2", 1, None, None, "")
    other = discharged(session, world, 60, document=True)
    foreign = session.scalars(sa.select(Document).where(Document.record_id == other.id)).one()
    with pytest.raises(Refusal, match="不属于此病案"):
        service.add_deduction(session, actor(qc), qc, score, "1.2", 1, foreign.id, None, "")
    own = add_pdf_document(session, assignment.record, "入院记录")
    with pytest.raises(Refusal, match="第9页不存在"):
        service.add_deduction(session, actor(qc), qc, score, "1.2", 1, own.id, 9, "")
    deduction = service.add_deduction(session, actor(qc), qc, score, "1.2", 1, own.id, 2, "主要诊断应为肺炎")
    session.commit()
    assert (deduction.document_id, deduction.page, score.total, score.grade) == (own.id, 2, 97, "甲")


def test_submitting_needs_every_proposal_decided_and_then_is_final_and_audited(session, world, month):
    task = _task(session, world)
    _with_findings(session, world, _assigned(session, task)[0].record)
    qc, _assignment, score = _first(session, world, task)
    with pytest.raises(Refusal, match="3条系统建议扣分未确认"):
        service.submit(session, actor(qc), qc, score)
    for deduction in score.deductions:
        service.decide(session, actor(qc), qc, score, deduction.id, accept=deduction.item_code.startswith("1."))
    outcome = service.submit(session, actor(qc), qc, score)
    session.commit()
    assert (score.status, outcome.total, score.grade) == ("final", 99.5, "甲") and score.scored_at is not None
    with pytest.raises(Conflict, match="评分已提交"):
        service.add_deduction(session, actor(qc), qc, score, "1.2", 1, None, None, "")
    actions = session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "final_score")
                              .order_by(AuditEvent.id)).all()
    assert actions[0] == "scoring.open" and actions[-1] == "scoring.submit"


def test_only_the_assigned_reviewer_scores_a_record(session, world, month):
    task = _task(session, world, reviewers=("qc", "archivist"))
    archivist = world.users["archivist"]
    with pytest.raises(Refusal, match="已分配给测试qc"):
        service.open_score(session, actor(archivist), archivist, _assigned(session, task)[0])


def test_the_records_grade_is_its_latest_final_score(session, world, month):
    first = _task(session, world, seed=3)
    record_id = _assigned(session, first)[0].record_id
    qc = world.users["qc"]
    score = service.open_score(session, actor(qc), qc, _assigned(session, first)[0])
    service.submit(session, actor(qc), qc, score)
    session.commit()
    again = tasks.create(session, actor(qc), qc, "复评", tasks.Rule(month="2026-11", count=12), [qc.id], seed=3)
    session.commit()
    assignment = tasks.assignment(session, again.id, record_id)
    rescored = service.open_score(session, actor(qc), qc, assignment)
    document = add_pdf_document(session, assignment.record, "入院记录")
    service.add_deduction(session, actor(qc), qc, rescored, "13.2", 3, document.id, 1, "术前讨论缺失")
    service.submit(session, actor(qc), qc, rescored)
    session.commit()
    latest = finals.latest_grade(session, record_id)
    assert latest.id == rescored.id and latest.total == 96
