"""Real-world spellings: what clinicians type and what documents contain must meet in one form,
on the page side (indexing) and the query side alike."""
from __future__ import annotations

import pytest

from bingan.search.analysis import fold
from bingan.search.port import PageDoc, Scope, SearchIndex
from bingan.search.query import parse

PAGES = {
    1: "既往2型糖尿病10年，口服二甲双胍。",
    2: "Ⅱ型糖尿病病史5年，HbA1c 8.5%。",
    3: "II型呼吸衰竭，予无创通气。",
    4: "COVID-19核酸阳性，胸部ＣＴ示双肺磨玻璃影。",
    5: "予β受体阻滞剂，美托洛尔25㎎ bid。",
    6: "乙肝表面抗原(+)，HBsAg（+），丙肝抗体（－）。",
    7: "T2DM，血糖１２ mmol/L，体温38.5℃。",
    8: "患者诉“胸痛”，「心悸」2天：伴出汗。",
    9: "⾎压升高，⼼电图示Ⅲ度房室传导阻滞。",  # Kangxi radicals from a PDF text layer
    10: "高血压3级，乙肝表面抗原(-)，5µg。",
    11: "患者买买提•艾力，COVID−19 复查阴性。",
}


@pytest.fixture
def index(make_index) -> SearchIndex:
    return make_index(
        PageDoc(record_id=n, record_number=f"{n:07d}", stay=1, document_id=n, version_id=n, page=1, text=t)
        for n, t in PAGES.items()
    )


def found(index: SearchIndex, query: str) -> set[int]:
    return {r.record_id for r in index.search(query, Scope.everything(), limit=100).records}


@pytest.mark.parametrize(
    ("queries", "expected"),
    [
        (["Ⅱ型糖尿病", "II型糖尿病", "ii型糖尿病", "2型糖尿病", "２型糖尿病"], {1, 2}),  # numerals of a type
        (["Ⅱ型呼吸衰竭", "2型呼吸衰竭"], {3}),
        (["Ⅲ度房室传导阻滞", "III度房室传导阻滞", "3度房室传导阻滞"], {9}),
        (["高血压Ⅲ级", "高血压3级"], {10}),
        (["COVID-19", "covid-19", "COVID－19", "COVID−19"], {4, 11}),  # hyphen, full-width, minus
        (["CT", "ＣＴ", "ct"], {4}),
        (["12 mmol", "１２ mmol"], {7}),
        (["β受体阻滞剂", "Β受体阻滞剂"], {5}),
        (["HbA1c", "hba1c", "ＨｂＡ１ｃ"], {2}),
        (["T2DM", "t2dm"], {7}),
        (["乙肝表面抗原(+)", "乙肝表面抗原（+）", '"乙肝表面抗原(+)"'], {6}),
        (["HBsAg(+)", "hbsag（+）"], {6}),
        (["丙肝抗体(-)", "丙肝抗体（－）"], {6}),
        (["“胸痛”", "「心悸」", "『胸痛』", "“胸痛“", "胸痛"], {8}),
        (["2天：伴出汗", "2天:伴出汗"], {8}),  # a colon inside a word is text, not a field
        (["血压升高", "心电图"], {9}),  # ⾎ ⼼ are 血 心
        (["25mg", "25㎎"], {5}),
        (["38.5℃", "38.5°C"], {7}),
        (["5μg", "5µg"], {10}),  # Greek mu, micro sign
        (["买买提·艾力", "买买提•艾力", "买买提・艾力"], {11}),
    ],
)
def test_every_spelling_finds_the_same_pages(index, queries, expected):
    assert {q: found(index, q) for q in queries} == dict.fromkeys(queries, expected)


def test_2_type_does_not_find_2_degree_and_5_and_10_keep_their_shapes():
    assert found_tokens("2型") == {("2", "型"), ("ii", "型")}
    assert found_tokens("2度") == {("2", "度"), ("ii", "度")}
    assert found_tokens("V型") == {("v", "型")}  # V型 / X型 are as often shapes
    assert found_tokens("10型") == {("10", "型")}
    assert found_tokens("2次") == {("2", "次")}  # only type, degree, stage and grade


def found_tokens(query: str) -> set[tuple[str, ...]]:
    root = parse(query).root
    terms = getattr(root, "children", (root,))
    return {t.tokens for t in terms}


def test_folding_keeps_ordinary_text_and_what_would_change_its_meaning():
    text = "患者2型糖尿病，ＣＴ示10⁹/L，①咳嗽，﨑"
    assert fold(text) == text  # full-width stays for the analyser; superscripts stay: 10⁹ ≠ 109


def test_snippets_mark_folded_text(index):
    hit = index.search("Ⅲ度", Scope.everything()).records[0].hits[0]
    assert "<mark>III度</mark>房室传导阻滞" in hit.snippet
