"""Prefix search on codes and numbers: 诊断:J18*, 手术:36.06*, 病案号:00123*, 身份证:110105*."""
from __future__ import annotations

import pytest

from bingan.search.port import PageDoc, Scope, SearchIndex
from bingan.search.query import QueryError, parse


def page(rid: int, text: str = "入院记录", **extra) -> PageDoc:
    base = dict(record_id=rid, record_number=f"{rid:07d}", stay=1, document_id=rid, version_id=rid,
                page=1, text=text, department="XNK")
    base.update(extra)
    return PageDoc(**base)


DOCS = [
    page(1, diagnosis_codes=["J18.900"], diagnosis_names=["肺炎"]),
    page(2, diagnosis_codes=["J18.900x001", "E11.900"], diagnosis_names=["社区获得性肺炎", "2型糖尿病"]),
    page(3, diagnosis_codes=["J18.0"], operation_codes=["36.0601"]),
    page(4, diagnosis_codes=["J180"], operation_codes=["36.1501"], department="HXK"),
    page(5, "诊断：J18.9 肺炎（病历正文里的编码不算诊断编码）", diagnosis_codes=["I25.103"]),
    page(123, record_number="0012345", aliases=["B-2019-77"], id_number="11010519491231002X"),
    page(124, record_number="0012399", id_number="32010219800101001x"),
]


@pytest.fixture
def index(make_index) -> SearchIndex:
    return make_index(DOCS)


def found(index: SearchIndex, query: str, scope: Scope | None = None) -> set[int]:
    result = index.search(query, scope or Scope.everything(), limit=100)
    return {r.record_id for r in result.records}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("诊断:J18*", {1, 2, 3, 4}),
        ("诊断:j18*", {1, 2, 3, 4}),  # case-insensitive
        ("诊断：Ｊ１８＊", {1, 2, 3, 4}),  # full-width input
        ("诊断:J18.*", {1, 2, 3}),  # the dot is a character of the code
        ("诊断:J18.9*", {1, 2}),
        ("诊断:J18.900x*", {2}),  # national clinical edition extension
        ("diagnosis:J18.900X001*", {2}),  # a whole code is its own prefix
        ("诊断:E*", {2}),
        ("诊断:K*", set()),
        ("手术:36.06*", {3}),
        ("手术:36*", {3, 4}),
        ("病案号:00123*", {123, 124}),
        ("病案号:001234*", {123}),
        ("record:b-2019*", {123}),  # aliases too
        ("身份证:110105*", {123}),
        ("id:3201021980*", {124}),
    ],
)
def test_a_prefix_finds_exactly_the_codes_that_start_with_it(index, query, expected):
    assert found(index, query) == expected


def test_prefixes_combine_with_words_negation_and_scope(index):
    assert found(index, "诊断:J18* -诊断:J18.0*") == {1, 2, 4}
    assert found(index, "诊断:J18* 糖尿病") == set()  # 糖尿病 is a diagnosis name, not page text
    assert found(index, "诊断:J18* OR 诊断:I25*") == {1, 2, 3, 4, 5}
    assert found(index, "诊断:J18*", Scope(departments={"HXK"})) == {4}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("诊断:*", "至少需要 1 个字母或数字"),
        ("诊断:.*", "至少需要 1 个字母或数字"),
        ("病案号:-*", "至少需要 1 个字母或数字"),
        ("肺炎 *", "只能单独使用"),
        ("J18*", "需写在编码字段后"),
        ("诊断:J*8", "只能放在末尾"),
        ("手术:36**", "只能放在末尾"),
        ("姓名:张*", "不支持前缀检索"),
        ("出院:2024*", "不支持前缀检索"),
    ],
)
def test_prefixes_that_would_scan_everything_or_mean_nothing_are_refused(query, message):
    with pytest.raises(QueryError, match=message):
        parse(query)


def test_a_quoted_star_is_literal_text_and_a_lone_star_lists_the_scope(index):
    assert found(index, '诊断:"J18*"') == set()
    assert found(index, '"*"') == set()
    assert found(index, "*", Scope(departments={"HXK"})) == {4}
