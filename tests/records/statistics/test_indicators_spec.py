"""The 2021 indicators Bingan computes itself, against a table worked out by hand for October 2026
(conftest.py describes the four records). Working days come from the project's calendar: R2,
discharged on 10-02 during 国庆, is archived within 2 working days although submitted a week later;
R3, discharged on a Friday, is late on the Wednesday after."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bingan.access.audit import Actor
from bingan.errors import Refusal
from bingan.records.archive_rate import archive_rate
from bingan.records.statistics import blocks, indicators
from bingan.storage.models import User
from bingan.storage.models.scoring import FinalScore, ScoringStandard

OCTOBER = blocks.period("2026-10-01", "2026-10-31")
ADMIN = Actor(None, "tester")

# code: (numerator, denominator, rate, records of the numerator, records of the denominator)
EXPECTED = {
    "MER-TL-01": (2, 4, 50.0, {"R1", "R4"}, {"R1", "R2", "R3", "R4"}),
    "MER-TL-02": (1, 2, 50.0, {"R1"}, {"R1", "R2"}),
    "MER-TL-03": (3, 4, 75.0, {"R1", "R2", "R4"}, {"R1", "R2", "R3", "R4"}),
    "MER-TL-04": (1, 4, 25.0, {"R4"}, {"R1", "R2", "R3", "R4"}),
    "MER-D&T-04": (1, 2, 50.0, {"R1"}, {"R1", "R2"}),
    "MER-D&T-06": (1, 2, 50.0, {"R2"}, {"R2", "R3"}),
    "MER-TQ-01": (2, 4, 50.0, {"R1", "R2"}, {"R1", "R2", "R3", "R4"}),
    "MER-TQ-02": (1, 4, 25.0, {"R1"}, {"R1", "R2", "R3", "R4"}),
}


def _values(session, **filters) -> dict[str, indicators.Value]:
    return {v.indicator.code: v for v in indicators.compute(session, OCTOBER, blocks.Filters(**filters))}


def _names(month, drill) -> set[str]:
    by_id = {record.id: name for name, record in month.records.items()}
    return {by_id[line.id] for line in drill.lines}


def test_the_automatic_indicators_match_the_hand_computed_table(session, month):
    values = _values(session)
    found = {code: (values[code].numerator, values[code].denominator, values[code].rate) for code in EXPECTED}
    assert found == {code: expected[:3] for code, expected in EXPECTED.items()}


def test_the_records_behind_each_number_are_the_hand_counted_ones(session, month):
    found, expected = {}, {}
    for code, (_, _, _, above, below) in EXPECTED.items():
        indicator = indicators.BY_CODE[code]
        found[code] = tuple(_names(month, indicators.records_of(session, indicator, part, OCTOBER, blocks.Filters()))
                            for part in ("numerator", "denominator", "missed"))
        expected[code] = (above, below, below - above)
    assert found == expected


def test_tq_01_and_02_agree_with_the_archive_rate_report(session, month):
    totals = archive_rate(session, "2026-10", "2026-10").totals
    values = _values(session)
    assert values["MER-TQ-01"].numerator == totals.archived_within_2_days
    assert values["MER-TQ-02"].numerator == totals.complete
    assert values["MER-TQ-01"].denominator == totals.discharged


def test_a_department_filter_counts_only_its_records(session, month):
    values = _values(session, department_id=month.world.respiratory.id)
    assert (values["MER-TL-01"].numerator, values["MER-TL-01"].denominator) == (1, 2)
    assert (values["MER-TQ-01"].numerator, values["MER-TQ-01"].denominator) == (0, 2)


def test_a_shorter_period_leaves_out_records_discharged_after_it(session, month):
    values = {v.indicator.code: v for v in indicators.compute(session, blocks.period("2026-10-01", "2026-10-10"),
                                                              blocks.Filters())}
    assert values["MER-TL-01"].denominator == 2


def test_a_typed_denominator_makes_the_monthly_burden(session, month):
    indicators.set_input(session, ADMIN, "MER-HR-01", "2026-10", None, 2)
    value = _values(session)["MER-HR-01"]
    assert (value.numerator, value.denominator, value.rate, value.missing_months) == (4, 2, 2.0, [])


def test_a_typed_indicator_without_its_month_says_which_month_is_missing(session, month):
    indicators.set_input(session, ADMIN, "MER-TQ-03", "2026-10", 3, 4)
    assert _values(session)["MER-TQ-03"].rate == 75.0
    assert _values(session)["MER-TQ-04"].missing_months == ["2026-10"]


def test_an_automatic_indicator_cannot_be_typed_in(session, month):
    with pytest.raises(Refusal, match="自动计算"):
        indicators.set_input(session, ADMIN, "MER-TL-01", "2026-10", 1, 2)


def test_a_required_document_added_to_d_t_04_changes_who_is_complete(session, month):
    types = indicators.type_names(session)
    counting = next(id_ for id_, name in types.items() if name == "手术清点记录")
    indicators.add_requirement(session, ADMIN, "MER-D&T-04", "手术清点记录", [counting])
    assert _values(session)["MER-D&T-04"].numerator == 0


def test_removing_the_blood_requirements_makes_every_blood_record_complete(session, month):
    for item in indicators.requirements(session, "MER-D&T-06"):
        indicators.remove_requirement(session, ADMIN, item.id)
    assert _values(session)["MER-D&T-06"].numerator == 2


def _score(session, record, grade: str, status: str = "final", day: int = 20) -> None:
    standard = session.scalar(sa.select(ScoringStandard.id).limit(1))
    if standard is None:
        standard = ScoringStandard(name="测试标准", version=1, sections=[], thresholds={})
        session.add(standard)
        session.flush()
        standard = standard.id
    reviewer = session.scalar(sa.select(User.id).limit(1))
    scored_at = datetime(2026, 11, day, 2, tzinfo=UTC) if status == "final" else None
    session.add(FinalScore(record_id=record.id, standard_id=standard, reviewer_id=reviewer, grade=grade,
                           status=status, scored_at=scored_at))
    session.flush()


def test_tq_09_counts_the_latest_final_grade_over_the_scored_records(session, month):
    records = month.records
    _score(session, records["R1"], "甲")
    _score(session, records["R2"], "乙", day=5)
    _score(session, records["R2"], "甲", day=6)  # re-scored: the latest final grade counts
    _score(session, records["R3"], "甲", status="draft")  # not submitted: not scored
    _score(session, records["R4"], "丙")
    value = _values(session)["MER-TQ-09"]
    assert (value.numerator, value.denominator) == (2, 3)
    indicator = indicators.BY_CODE["MER-TQ-09"]
    drill = {part: _names(month, indicators.records_of(session, indicator, part, OCTOBER, blocks.Filters()))
             for part in ("numerator", "denominator", "missed")}
    assert drill == {"numerator": {"R1", "R2"}, "denominator": {"R1", "R2", "R4"}, "missed": {"R4"}}


def test_tq_09_without_scores_has_nothing_to_count(session, month):
    value = _values(session)["MER-TQ-09"]
    assert (value.numerator, value.denominator, value.rate) == (0, 0, None)
