"""The score function's specification table: deductions per occurrence, item limits, section caps,
单项否决 (a fixed deduction taken once, or a forced 丙), the total and the grade thresholds."""
from __future__ import annotations

import pytest

from bingan.errors import Refusal
from bingan.records.scoring import defaults, rules

# 首页 10 points; 病程 20; 签名 70 — a 100-point standard small enough to read.
TABLE = rules.parse([
    {"name": "病案首页", "points": 10, "items": [
        {"text": "首页缺项（每项）", "deduction": 0.5},
        {"text": "主要诊断错误", "deduction": 3, "max_times": 1},
        {"text": "其他诊断漏填", "deduction": 1, "cap": 2},
        {"text": "入院记录超时", "deduction": 0, "veto": "fixed", "veto_points": 10},
    ]},
    {"name": "日常病程", "points": 20, "items": [
        {"text": "病程未按频次记录", "deduction": 4},
        {"text": "出院记录缺失", "deduction": 0, "veto": "fixed", "veto_points": 8},
    ]},
    {"name": "书写基本要求", "points": 70, "items": [
        {"text": "错别字（每处）", "deduction": 0.1},
        {"text": "伪造病历", "deduction": 2, "veto": "grade"},
        {"text": "扣分", "deduction": 10},
    ]},
])


@pytest.mark.parametrize(("deductions", "total", "grade"), [
    ([], 100, "甲"),
    ([("1.1", 3)], 98.5, "甲"),                       # 0.5 × 3
    ([("1.2", 4)], 97, "甲"),                          # at most once: 3, not 12
    ([("1.3", 5)], 98, "甲"),                          # item cap 2, not 5
    ([("1.1", 10), ("1.2", 1), ("1.3", 3)], 90, "甲"),  # 5 + 3 + 2 = 10: exactly the section
    ([("1.1", 20), ("1.2", 1)], 90, "甲"),             # 10 + 3 capped at the section's 10
    ([("2.1", 6)], 80, "乙"),                          # 24 capped at 20
    ([("3.1", 3)], 99.7, "甲"),                        # 0.1 × 3 without float noise
    ([("1.4", 1)], 90, "甲"),                          # 单项否决 fixed: 10 off the total
    ([("1.4", 3)], 90, "甲"),                          # … taken once, whatever the occurrences
    ([("1.4", 1), ("2.2", 1)], 90, "甲"),              # … and not accumulated over veto items (max 10)
    ([("1.1", 20), ("1.4", 1)], 80, "乙"),             # section cap and veto apart: 100 − 10 − 10
    ([("3.2", 1)], 98, "丙"),                          # 单项否决 grade: 丙 whatever the total
    ([("3.3", 7), ("2.1", 5), ("1.1", 20)], 0, "丙"),  # 70 + 20 + 10: never below 0
])
def test_the_score_of_deductions(deductions, total, grade):
    outcome = rules.compute(TABLE, deductions)
    assert (outcome.total, outcome.grade) == (total, grade)


@pytest.mark.parametrize(("total", "grade"), [(100, "甲"), (90, "甲"), (89.5, "乙"), (89.99, "乙"), (80, "乙"),
                                              (79.9, "丙"), (0, "丙")])
def test_the_grade_thresholds(total, grade):
    assert rules.grade_of(total, {"甲": 90, "乙": 80}) == grade


def test_edited_thresholds_move_the_grades():
    assert rules.grade_of(76, {"甲": 90, "乙": 75}) == "乙"
    assert rules.grade_of(74.5, {"甲": 90, "乙": 75}) == "丙"


def test_a_deduction_is_reported_against_its_section_after_the_cap():
    outcome = rules.compute(TABLE, [("2.1", 6), ("1.4", 1)])
    assert [(s.name, s.deducted) for s in outcome.sections] == [("病案首页", 0), ("日常病程", 20),
                                                                ("书写基本要求", 0)]
    assert outcome.veto_deducted == 10 and outcome.vetoes == ("1.4",) and not outcome.forced


def test_an_unknown_item_is_refused():
    with pytest.raises(Refusal, match="没有扣分项"):
        rules.compute(TABLE, [("9.9", 1)])


def test_the_shipped_standard_has_100_points_in_the_provincial_structure():
    standard = rules.parse(defaults.SECTIONS, defaults.THRESHOLDS)
    points = {s.name: s.points for s in standard.sections}
    assert standard.points == 100
    assert points["病案首页"] == 10 and points["日常病程记录"] == 18 and points["知情同意书"] == 10
    assert sum(p for name, p in points.items() if name.startswith("入院记录")) == 24
    assert {i.veto for i in standard.items().values()} == {"", "fixed", "grade"}


@pytest.mark.parametrize(("sections", "thresholds", "why"), [
    ([], None, "至少要有一个项目"),
    ([{"name": "首页", "points": 10, "items": []}], None, "没有评分内容"),
    ([{"name": "首页", "points": "十", "items": [{"text": "缺项", "deduction": 1}]}], None, "应为数字"),
    ([{"name": "首页", "points": 10, "items": [{"text": "", "deduction": 1}]}], None, "请填写"),
    ([{"name": "首页", "points": 10, "items": [{"text": "缺项", "deduction": 12}]}], None, "超过项目分值"),
    ([{"name": "首页", "points": 10, "items": [{"text": "缺项", "deduction": 1, "veto": "maybe"}]}], None,
     "单项否决方式"),
    ([{"name": "首页", "points": 10, "items": [{"text": "缺项", "deduction": 1}]}], {"甲": 80, "乙": 90},
     "乙级分数线应低于"),
])
def test_a_malformed_standard_is_refused_in_chinese(sections, thresholds, why):
    with pytest.raises(Refusal, match=why):
        rules.parse(sections, thresholds)
