"""The medical synonym and abbreviation dictionary (检索词典) and the switch 同义词扩展."""
from __future__ import annotations

import pytest

from bingan.search import query as q
from bingan.search.port import PageDoc, Scope
from bingan.search.synonyms import (
    DEFAULT_GROUPS,
    Dictionary,
    DictionaryError,
    check_group,
    split_terms,
    switched,
    words,
)

DICTIONARY = Dictionary(DEFAULT_GROUPS)


def _spellings(node: q.Node) -> list[str]:
    if isinstance(node, q.Term):
        return [node.text]
    return [s for child in node.children for s in _spellings(child)]


def test_the_defaults_are_about_fifty_groups_each_spelling_in_one_group_only():
    assert len(DEFAULT_GROUPS) >= 50
    for i, group in enumerate(DEFAULT_GROUPS):
        check_group(list(group), DEFAULT_GROUPS[:i])


def test_a_term_of_a_group_becomes_the_term_or_every_other_spelling():
    expanded = DICTIONARY.expand(q.parse("心衰").root)
    assert isinstance(expanded, q.Or)
    assert _spellings(expanded) == ["心衰", "心力衰竭", "心功能不全"]
    assert _spellings(DICTIONARY.expand(q.parse("慢性阻塞性肺疾病").root)) == [
        "慢性阻塞性肺疾病", "慢阻肺", "COPD", "慢性阻塞性肺病"]


@pytest.mark.parametrize("spelling", ["COPD", "copd", "ＣＯＰＤ", "Copd"])
def test_letters_match_whatever_their_case_and_width(spelling):
    assert "慢性阻塞性肺疾病" in _spellings(DICTIONARY.expand(q.parse(spelling).root))


def test_a_term_that_only_contains_a_spelling_is_not_expanded():
    root = q.parse("慢性心衰").root
    assert DICTIONARY.expand(root) == root


def test_diagnosis_and_operation_terms_are_expanded_other_fields_are_not():
    expanded = DICTIONARY.expand(q.parse("诊断:房颤 手术:PCI 姓名:房颤 -冠心病").root)
    diagnosis, operation, name, negated = expanded.children
    assert _spellings(diagnosis) == ["房颤", "心房颤动", "AF"] and diagnosis.children[1].field == "diagnosis"
    assert _spellings(operation) == ["PCI", "经皮冠状动脉介入治疗", "冠脉介入"]
    assert name == q.parse("姓名:房颤").root
    assert _spellings(negated.child) == ["冠心病", "冠状动脉粥样硬化性心脏病", "CHD"]


def test_expansion_is_one_step_and_keeps_the_negation_switch():
    parsed = switched(q.parse("心梗"), dictionary=DICTIONARY, affirmed=True)
    assert _spellings(parsed.root) == ["心梗", "心肌梗死", "心肌梗塞"]  # not 急性心梗's group
    assert all(term.affirmed for term in parsed.root.children)


def test_both_switches_off_leave_the_query_as_it_is():
    parsed = q.parse("心衰 -房颤")
    assert switched(parsed, dictionary=None, affirmed=False) == parsed


def test_groups_are_typed_with_any_common_separator():
    assert split_terms("心衰、心力衰竭，心功能不全;心衰 = Heart  Failure\n心力衰竭") == [
        "心衰", "心力衰竭", "心功能不全", "Heart Failure"]


@pytest.mark.parametrize(("terms", "message"), [
    (["心衰"], "至少需要两个"),
    (["房颤", "心房纤颤"], "已在另一组"),
    (["ＣＯＰＤ", "慢阻塞"], "已在另一组"),
    (["甲" * 51, "乙"], "过长"),
])
def test_a_group_that_expands_nothing_or_clashes_is_refused(terms, message):
    with pytest.raises(DictionaryError, match=message):
        check_group(terms, DEFAULT_GROUPS)


def test_spellings_are_compared_as_the_index_cuts_them():
    assert words("ＣＯＰＤ") == words("copd") == ("copd",)
    assert words("心 衰") == words("心衰")


def _page(serial: int, text: str, diagnosis: str = "") -> PageDoc:
    return PageDoc(record_id=serial, record_number=f"{serial:07d}", stay=1, document_id=serial, version_id=serial,
                   page=1, text=text, department="XNK", diagnosis_names=[diagnosis] if diagnosis else [])


def test_the_index_finds_every_spelling_when_asked(make_index):
    index = make_index([
        _page(1, "诊断：慢性心力衰竭急性加重。"),
        _page(2, "既往心功能不全病史。"),
        _page(3, "心衰3年。"),
        _page(4, "慢性阻塞性肺疾病急性加重。", diagnosis="COPD"),
    ])

    def found(query: str, dictionary: Dictionary | None) -> set[int]:
        parsed = switched(q.parse(query), dictionary=dictionary, affirmed=False)
        return {r.record_id for r in index.search(parsed, Scope.everything(), limit=50).records}

    assert found("心衰", None) == {3}
    assert found("心衰", DICTIONARY) == {1, 2, 3}
    assert found("诊断:慢阻肺", None) == set()
    assert found("诊断:慢阻肺", DICTIONARY) == {4}
