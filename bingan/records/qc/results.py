"""QC results for the hospital's record statistics system (病案统计, U1): each archive QC review
finished (passed to archive) since a moment, with its returns and comments counted. No patient
names: statistics need the record, its department and the outcome, not who the patient is."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan.access.policy import Subject
from bingan.clock import iso
from bingan.records.qc.worklist import in_scope
from bingan.storage.models import Record
from bingan.storage.models.qc import QcComment, QcReturn, QcReview

MAX_BATCH = 1000


def results_since(session: Session, subject: Subject, since: datetime, limit: int = 500) -> list[dict]:
    """Reviews finished at or after ``since`` in the subject's scope, oldest first; a caller pages
    by asking again from the last ``finished_at`` it received (ids break ties; repeats are harmless)."""
    query = (sa.select(QcReview).join(Record, Record.id == QcReview.record_id)
             .where(QcReview.status == "passed", QcReview.finished_at >= since)
             .options(selectinload(QcReview.record).selectinload(Record.discharge_department),
                      selectinload(QcReview.record).selectinload(Record.admission_department),
                      selectinload(QcReview.passed_by))
             .order_by(QcReview.finished_at, QcReview.id).limit(min(max(limit, 1), MAX_BATCH)))
    reviews = list(session.scalars(in_scope(query, subject)))
    ids = [review.id for review in reviews]
    returns = dict(session.execute(sa.select(QcReturn.review_id, sa.func.count()).where(QcReturn.review_id.in_(ids))
                                   .group_by(QcReturn.review_id)).all())
    comments: dict[int, dict[str, int]] = {}
    for review_id, kind, count in session.execute(
            sa.select(QcComment.review_id, QcComment.kind, sa.func.count()).where(QcComment.review_id.in_(ids))
            .group_by(QcComment.review_id, QcComment.kind)):
        comments.setdefault(review_id, {})[kind] = count
    return [_result(review, returns.get(review.id, 0), comments.get(review.id, {})) for review in reviews]


def _result(review: QcReview, returns: int, comments: dict[str, int]) -> dict:
    record = review.record
    department = record.discharge_department or record.admission_department
    return {
        "review_id": review.id, "record_id": record.id, "record_number": record.record_number,
        "stay_number": record.stay_number,
        "department_code": department.code if department else "", "department": department.name if department else "",
        "discharged_at": iso(record.discharged_at), "started_at": iso(review.started_at),
        "finished_at": iso(review.finished_at), "result": "passed", "flow": review.flow_name,
        "returns": returns, "medical_comments": comments.get("medical", 0),
        "nursing_comments": comments.get("nursing", 0), "overridden": bool(review.override_reason),
        "passed_by": review.passed_by.username if review.passed_by else "",
    }
