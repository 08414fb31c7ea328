"""The switch "排除否定描述": which mentions stand inside a negation (a table of real phrasing),
and the index finds exactly the affirmed ones."""
from __future__ import annotations

import pytest

from bingan.search import query as q
from bingan.search.negation import affirmed_text, exclude_negated, negated_spans
from bingan.search.port import PageDoc, Scope

# (text, the negated parts in order) — phrasing from admission notes, progress notes and reports
TABLE = [
    ("否认结核病史", ["否认结核病史"]),
    ("未见肺炎征象", ["未见肺炎征象"]),
    ("无发热", ["无发热"]),
    ("排除肺结核", ["排除肺结核"]),
    ("未发现肿瘤转移", ["未发现肿瘤转移"]),
    ("患者未诉胸痛", ["未诉胸痛"]),
    ("腹软，未触及包块", ["未触及包块"]),
    ("双肺未闻及干湿啰音", ["未闻及干湿啰音"]),
    ("不伴恶心、呕吐", ["不伴恶心、呕吐"]),
    # the enumeration comma keeps the negation going: both diseases are denied
    ("否认高血压、糖尿病史", ["否认高血压、糖尿病史"]),
    ("否认肝炎、结核等传染病史，否认手术史。有青霉素过敏史", ["否认肝炎、结核等传染病史", "否认手术史"]),
    # 无明显诱因 negates the cause only: the cough is affirmed
    ("患者无明显诱因出现咳嗽、咳痰3天", ["无明显诱因"]),
    ("胸片未见异常，肺部可闻及湿啰音", ["未见异常"]),
    ("双肺未闻及干啰音可闻及湿啰音", ["未闻及干啰音"]),
    ("无发热但有咳嗽", ["无发热"]),
    ("无发热，咳嗽", ["无发热"]),
    ("腹痛伴呕吐，无腹泻", ["无腹泻"]),
    ("胸片示双肺纹理增粗.无胸腔积液", ["无胸腔积液"]),
    ("诊断：肺炎（J18.9）无发热", ["无发热"]),  # a dot inside a code is no boundary
    ("心电图未见异常  肺炎", ["未见异常"]),  # a field gap is a boundary
    ("无咳嗽\n肺炎", ["无咳嗽"]),
    ("无 发 热，咳嗽", ["无 发 热"]),  # OCR spaces
    ("无发热，无咳嗽、咳痰，无胸痛", ["无发热", "无咳嗽、咳痰", "无胸痛"]),
    # trailing cues negate their clause, back to the previous boundary or enumeration comma
    ("结核菌素试验阴性，痰培养见肺炎克雷伯菌", ["结核菌素试验阴性"]),
    ("HBsAg（－）、抗HCV(+)", ["HBsAg（－）"]),
    ("抗HCV阳性、HBsAg阴性", ["HBsAg阴性"]),
    ("双下肢水肿不明显", ["双下肢水肿不明显"]),
    # words that begin with 无 but deny nothing, and 有无
    ("行无痛胃镜检查", []),
    ("无菌操作下行腰椎穿刺", []),
    ("予无创呼吸机辅助通气", []),
    ("四肢无力2天", []),
    ("抗感染治疗无效", []),
    ("询问有无发热", []),
    ("肺部可闻及湿啰音", []),
]


@pytest.mark.parametrize(("text", "negated"), TABLE, ids=[t for t, _ in TABLE])
def test_negated_spans_of_real_phrasing(text, negated):
    assert [text[a:b] for a, b in negated_spans(text)] == negated


def test_affirmed_text_leaves_a_break_where_a_negation_stood():
    assert affirmed_text("患者无发热咳嗽") == "患者\n"
    assert affirmed_text("胸痛，无发热，咳嗽") == "胸痛，\n，咳嗽"
    assert affirmed_text("咳嗽3天") == "咳嗽3天"


def test_the_switch_marks_every_page_text_term_also_under_not():
    root = exclude_negated(q.parse("(肺炎 OR 结核) -发热 诊断:肺炎").root)
    terms = [c for c in root.children[0].children] + [root.children[1].child, root.children[2]]
    assert [(t.text, t.affirmed) for t in terms] == [
        ("肺炎", True), ("结核", True), ("发热", True), ("肺炎", False)]


def _page(serial: int, text: str) -> PageDoc:
    return PageDoc(record_id=serial, record_number=f"{serial:07d}", stay=1, document_id=serial,
                   version_id=serial, page=1, text=text, department="HXK", department_name="呼吸科")


PAGES = [
    _page(1, "既往史：否认结核病史，否认高血压、糖尿病史。"),
    _page(2, "肺结核病史10年，规律抗结核治疗。"),
    _page(3, "患者无明显诱因出现咳嗽、咳痰3天，无发热。"),
    _page(4, "胸片未见异常，肺部可闻及湿啰音。"),
    _page(5, "无发热但有咳嗽，结核菌素试验阴性。"),
    _page(6, "患者无发热咳嗽，查体：双肺呼吸音粗。"),
]


def _found(index, query: str, *, affirmed: bool) -> set[int]:
    parsed = q.parse(query)
    if affirmed:
        parsed = q.ParsedQuery(exclude_negated(parsed.root))
    result = index.search(parsed, Scope.everything(), limit=100, group_by_record=False, facets=False)
    return {r.record_id for r in result.records}


@pytest.mark.parametrize(("query", "everywhere", "affirmed"), [
    ("结核", {1, 2, 5}, {2}),
    ("咳嗽", {3, 5, 6}, {3, 5}),
    ("发热", {3, 5, 6}, set()),
    ("糖尿病", {1}, set()),
    ("湿啰音", {4}, {4}),
    ("异常", {4}, set()),
    ("肺炎 OR 结核", {1, 2, 5}, {2}),
    ("咳嗽 -结核", {3, 6}, {3, 5}),  # 结核菌素试验阴性 no longer excludes page 5
    ("患者发热", set(), set()),  # 患者 and 发热 never join across a removed negation
])
def test_the_index_finds_exactly_the_affirmed_mentions(make_index, query, everywhere, affirmed):
    index = make_index(PAGES)
    assert _found(index, query, affirmed=False) == everywhere
    assert _found(index, query, affirmed=True) == affirmed
