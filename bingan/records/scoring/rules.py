"""The scoring rules, pure: a standard as data (sections, items, grade thresholds), checked, and the
score of a set of deductions — deductions capped per item and per section, 单项否决, total, grade.

- An item deducts ``deduction`` per occurrence, at most ``max_times`` occurrences and at most
  ``cap`` points when those are set.
- A section never loses more than its points.
- 单项否决 (``veto``): ``fixed`` takes ``veto_points`` (10 by default) off the total, outside the
  section caps and *without accumulation*: however many fixed-veto items and occurrences, the
  largest of their points is taken once; ``grade`` forces 丙 whatever the total (the item's own
  deduction still counts in its section).
- The total is the standard's points less the deductions, never below 0; the grade is the
  highest whose threshold the total reaches (甲 ≥ 90, 乙 ≥ 80, else 丙; editable). 89.5 is 乙:
  totals are not rounded up.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from bingan.errors import Refusal

VETO_MODES = {"": "", "fixed": "单项否决（扣分）", "grade": "单项否决（丙级）"}
DEFAULT_THRESHOLDS = {"甲": 90.0, "乙": 80.0}
LOWEST = "丙"
MAX_SECTIONS, MAX_ITEMS, MAX_TEXT = 60, 400, 500


@dataclass(frozen=True)
class Item:
    code: str
    text: str
    deduction: float
    max_times: int | None = None
    cap: float | None = None
    veto: str = ""  # "" | fixed | grade
    veto_points: float = 10.0
    check: str = ""  # the self-check (name or name:keyword) whose findings propose this item

    def as_json(self) -> dict:
        return {"code": self.code, "text": self.text, "deduction": self.deduction, "max_times": self.max_times,
                "cap": self.cap, "veto": self.veto, "veto_points": self.veto_points, "check": self.check}


@dataclass(frozen=True)
class Section:
    name: str
    points: float
    items: tuple[Item, ...]

    def as_json(self) -> dict:
        return {"name": self.name, "points": self.points, "items": [item.as_json() for item in self.items]}


@dataclass(frozen=True)
class Standard:
    sections: tuple[Section, ...]
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))

    @property
    def points(self) -> float:
        return float(sum(_d(s.points) for s in self.sections))

    def item(self, code: str) -> Item | None:
        return self.items().get(code)

    def items(self) -> dict[str, Item]:
        return {item.code: item for section in self.sections for item in section.items}

    def section_of(self, code: str) -> Section | None:
        return next((s for s in self.sections if any(i.code == code for i in s.items)), None)


@dataclass(frozen=True)
class SectionScore:
    name: str
    points: float
    deducted: float  # after the section's cap


@dataclass(frozen=True)
class Outcome:
    total: float
    grade: str
    sections: tuple[SectionScore, ...]
    veto_deducted: float  # the fixed 单项否决 deduction taken off the total (0 if none)
    forced: bool  # a 单项否决 item forced 丙
    vetoes: tuple[str, ...]  # codes of the veto items that applied


def _d(value: float | int | str) -> Decimal:
    return Decimal(str(value))


def grade_of(total: float, thresholds: dict[str, float]) -> str:
    """The highest grade whose threshold ``total`` reaches; 丙 below them all."""
    for grade, limit in sorted(thresholds.items(), key=lambda pair: -pair[1]):
        if _d(total) >= _d(limit):
            return grade
    return LOWEST


def compute(standard: Standard, deductions: Iterable[tuple[str, int]]) -> Outcome:
    """The score of ``deductions`` — (item code, occurrences) pairs, an item may repeat — under ``standard``."""
    times: dict[str, int] = {}
    for code, count in deductions:
        if standard.item(code) is None:
            raise Refusal(f"评分标准中没有扣分项“{code}”")
        if count < 1:
            raise Refusal("扣分次数至少为1")
        times[code] = times.get(code, 0) + count
    sections, lost, veto_points, forced, vetoes = [], Decimal(0), Decimal(0), False, []
    for section in standard.sections:
        taken = Decimal(0)
        for item in section.items:
            count = times.get(item.code, 0)
            if not count:
                continue
            if item.veto:
                vetoes.append(item.code)
            if item.veto == "fixed":
                veto_points = max(veto_points, _d(item.veto_points))
                continue
            forced = forced or item.veto == "grade"
            if item.max_times:
                count = min(count, item.max_times)
            points = _d(item.deduction) * count
            if item.cap is not None:
                points = min(points, _d(item.cap))
            taken += points
        taken = min(taken, _d(section.points))
        lost += taken
        sections.append(SectionScore(section.name, float(section.points), float(taken)))
    total = max(Decimal(0), _d(standard.points) - lost - veto_points)
    grade = LOWEST if forced else grade_of(float(total), standard.thresholds)
    return Outcome(float(total), grade, tuple(sections), float(veto_points), forced, tuple(vetoes))


# --- a standard as data -------------------------------------------------------------------------

def parse(sections: list, thresholds: dict | None = None) -> Standard:
    """The stored or submitted JSON form as a checked Standard; Refusal (Chinese) on anything wrong.
    Item codes are given by position (第 s 项目第 i 条 → "s.i") so a version's codes are stable."""
    if not isinstance(sections, list) or not sections:
        raise Refusal("评分标准至少要有一个项目")
    if len(sections) > MAX_SECTIONS:
        raise Refusal(f"评分标准的项目不能超过{MAX_SECTIONS}个")
    built, seen, count = [], set(), 0
    for s_index, raw in enumerate(sections, start=1):
        if not isinstance(raw, dict):
            raise Refusal(f"第{s_index}个项目格式不正确")
        name = _text(raw.get("name"), f"第{s_index}个项目的名称")
        if name in seen:
            raise Refusal(f"项目“{name}”重复")
        seen.add(name)
        points = _number(raw.get("points"), f"项目“{name}”的分值", positive=True)
        items_raw = raw.get("items")
        if not isinstance(items_raw, list) or not items_raw:
            raise Refusal(f"项目“{name}”没有评分内容")
        items = []
        for i_index, item in enumerate(items_raw, start=1):
            count += 1
            items.append(_item(item, f"{s_index}.{i_index}", name, points))
        built.append(Section(name, points, tuple(items)))
    if count > MAX_ITEMS:
        raise Refusal(f"评分内容不能超过{MAX_ITEMS}条")
    standard = Standard(tuple(built), _thresholds(thresholds))
    if standard.points <= 0:
        raise Refusal("评分标准的总分应大于0")
    return standard


def _item(raw: object, code: str, section: str, section_points: float) -> Item:
    where = f"项目“{section}”第{code.split('.')[1]}条"
    if not isinstance(raw, dict):
        raise Refusal(f"{where}格式不正确")
    text = _text(raw.get("text"), f"{where}的评分内容")
    veto = raw.get("veto") or ""
    if veto not in VETO_MODES:
        raise Refusal(f"{where}的单项否决方式应为空、fixed（扣分）或 grade（丙级）")
    deduction = _number(raw.get("deduction", 0), f"{where}的每处扣分", positive=not veto)
    if deduction > section_points:
        raise Refusal(f"{where}的每处扣分{_show(deduction)}超过项目分值{_show(section_points)}")
    max_times = raw.get("max_times")
    if max_times in ("", None, 0):
        max_times = None
    elif not isinstance(max_times, int) or isinstance(max_times, bool) or max_times < 1:
        raise Refusal(f"{where}的最多扣分次数应为正整数")
    cap = raw.get("cap")
    cap = None if cap in ("", None) else _number(cap, f"{where}的扣分上限", positive=True)
    veto_points = _number(raw.get("veto_points", 10) if raw.get("veto_points") not in ("", None) else 10,
                          f"{where}的否决扣分", positive=veto == "fixed")
    check = str(raw.get("check") or "").strip()[:64]
    return Item(code, text, deduction, max_times, cap, veto, veto_points, check)


def _thresholds(raw: dict | None) -> dict[str, float]:
    if not raw:
        return dict(DEFAULT_THRESHOLDS)
    if not isinstance(raw, dict) or set(raw) != set(DEFAULT_THRESHOLDS):
        raise Refusal("等级分数线应包括甲级和乙级")
    first = _number(raw["甲"], "甲级分数线", positive=True)
    second = _number(raw["乙"], "乙级分数线", positive=True)
    if second >= first:
        raise Refusal("乙级分数线应低于甲级分数线")
    return {"甲": first, "乙": second}


def _text(value: object, what: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise Refusal(f"请填写{what}")
    if len(text) > MAX_TEXT:
        raise Refusal(f"{what}不能超过{MAX_TEXT}字")
    return text


def _number(value: object, what: str, *, positive: bool = False) -> float:
    if isinstance(value, bool):
        raise Refusal(f"{what}应为数字")
    try:
        number = float(str(value).strip())
    except ValueError:
        raise Refusal(f"{what}应为数字，收到“{str(value)[:20]}”") from None
    if number != number or number < 0 or number > 1000 or (positive and number == 0):
        raise Refusal(f"{what}应为{'大于0' if positive else '不小于0'}且不超过1000的数字")
    return round(number, 2)


def _show(number: float) -> str:
    return f"{number:g}"


def as_json(standard: Standard) -> tuple[list, dict]:
    return [section.as_json() for section in standard.sections], dict(standard.thresholds)
