"""The word-pair fields must answer exactly what the unigram phrase answers."""
from __future__ import annotations

import itertools
import random
import re

import pytest

from bingan.search.analysis import (
    _HAN_RANGES,
    HAN_RE,
    RUN_END,
    analyze,
    pair_cover,
    pair_tokens,
    word_pair_values,
)
from bingan.search.port import PageDoc, Scope
from bingan.search.tantivy_index import TantivySearchIndex

TEXTS = {
    1: "糖尿，尿病",  # two runs: no 糖尿病 across the comma
    2: "糖 尿 病",  # OCR spacing: one run
    3: "肺炎。肺炎",  # 炎肺 only across the full stop
    4: "冠状动脉\n粥样硬化",  # line break splits runs
    5: "病3级肺\x1f炎",  # U+001F is a token for tantivy (not whitespace in Rust's \s)
    6: "阿司匹林\u3000100mg\t阿司\u2003匹林",  # ideographic / em space are skipped
    7: "糖尿病",
    8: "行 PCI 术后，胸部Ｘ线示",  # mixed words with OCR spaces and a full-width letter
    9: "病3，级 HbA1c 8.5%",  # a comma inside the mixed word; two ASCII words in a row
    10: "c t18 病",  # c_t18_ must not equal ct_18_
    11: "甲乙，丙丁",  # every-other-pair phrases must not jump from one run to the next
    12: "甲乙丙丁戊己",
}


def runs(*values: str) -> list[str]:
    return [v + RUN_END for v in values]


def test_values_are_runs_of_overlapping_pairs():
    assert word_pair_values("糖 尿病，肾病") == runs("糖尿 尿病", "肾病")
    assert word_pair_values("病3级") == runs("病3_ 3_级")
    assert word_pair_values("行PCI术，胸部X线") == runs("行pci_ pci_术", "胸部 部x_ x_线")
    assert word_pair_values("肺\x1f炎") == []
    assert word_pair_values("冠状动脉\r\n粥样") == runs("冠状 状动 动脉", "粥样")
    assert word_pair_values("\U00020000\U00020001") == runs("\U00020000\U00020001")
    assert word_pair_values("3.级 0.1g口服") == runs("级0.1g_ 0.1g_口 口服")  # "3." then a mark


def test_phrase_cover_takes_every_other_pair_and_the_last():
    assert pair_cover(["甲乙", "乙丙"]) == [(0, "甲乙"), (1, "乙丙")]
    assert pair_cover(list("abcde")) == [(0, "a"), (2, "c"), (4, "e")]
    assert pair_cover(list("abcdef")) == [(0, "a"), (2, "c"), (4, "e"), (5, "f")]


def test_query_side_routing():
    assert pair_tokens(("糖", "尿", "病")) == ["糖尿", "尿病"]
    assert pair_tokens(("病", "3", "级")) == ["病3_", "3_级"]
    assert pair_tokens(("ct", "18")) == ["ct_18_"]
    assert pair_tokens(("肺",)) is None
    assert pair_tokens(("糖", ",", "肾")) is None  # punctuation: unigram phrase
    assert pair_tokens(("β", "受")) is None


def test_every_han_character_is_its_own_unchanged_token():
    # pairs are cut in Python from raw characters; they agree with the unigram field only if
    # the analyser (lowercase, ascii_fold) leaves every Han character alone
    chars = [chr(cp) for lo, hi in _HAN_RANGES for cp in range(lo, hi + 1)]
    assert analyze(" ".join(chars)) == chars


def _pairs_from_tantivy_tokens(text: str) -> list[str]:
    """The specification: runs of word tokens in tantivy's own token stream, paired."""
    values, words = [], []
    for tok in [*analyze(text), ","]:
        if len(tok) == 1 and HAN_RE.match(tok):
            words.append(tok)
        elif re.fullmatch(r"[a-z0-9]+(?:\.[a-z0-9]+)*", tok):
            words.append(tok + "_")
        else:
            if len(words) > 1:
                values.append(" ".join(a + b for a, b in itertools.pairwise(words)) + RUN_END)
            words = []
    return values


ALPHABET = (
    list("病级肺炎糖尿") + list("abcXYZ0123") + [".", "．", " ", "\u3000", "\t", "\r", "\n", "，", ",", "_",
    "\x1f", "Ｃ", "７", "\u212a", "İ", "β", "%", "\U00020001", "①", "ß", "⑴", "é", "。"]
)


def test_python_pairs_equal_pairs_of_tantivy_tokens():
    rng = random.Random(5)
    for _ in range(3000):
        text = "".join(rng.choices(ALPHABET, k=rng.randint(0, 14)))
        assert word_pair_values(text) == _pairs_from_tantivy_tokens(text), repr(text)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    idx = TantivySearchIndex(tmp_path_factory.mktemp("pairs") / "index", heap_size=15_000_000)
    idx.add(
        PageDoc(record_id=n, record_number=f"{n:07d}", stay=1, document_id=n, version_id=n,
                page=1, text=text)
        for n, text in TEXTS.items()
    )
    idx.add([
        PageDoc(record_id=20, record_number="0000020", stay=1, document_id=20, version_id=20, page=1,
                text="", diagnosis_names=["慢性阻塞性肺疾病", "急性加重期高血压病3级"]),
    ])
    idx.commit()
    yield idx
    idx.close()


def found(index: TantivySearchIndex, query: str) -> set[int]:
    result = index.search(query, Scope.everything(), limit=100, facets=False)
    return {r.record_id for r in result.records}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("糖尿病", {2, 7}),
        ("尿病", {1, 2, 7}),
        ("炎肺", set()),
        ("肺炎", {3}),
        ("动脉粥样", set()),
        ("冠状动脉", {4}),
        ("肺炎肺炎", set()),
        ("阿司匹林", {6}),
        ("林阿", set()),
        ("级肺", {5}),
        ("病3级", {5}),
        ("3级肺", {5}),
        ("级肺炎", set()),
        ("行PCI术", {8}),
        ("PCI术后", {8}),
        ("胸部X线", {8}),
        ("hba1c 8.5", {9}),
        ('"HbA1c 8.5"', {9}),
        ('"c t18"', {10}),
        ('"ct 18"', set()),
        ("NOT 尿病", {3, 4, 5, 6, 8, 9, 10, 11, 12, 20}),
        ("甲乙丙丁", {12}),
        ("乙丙丁戊己", {12}),
        ("甲乙丙丁戊己", {12}),
        ("甲乙丙", {12}),
        ("诊断:阻塞性肺疾病", {20}),
        ("诊断:肺疾病急性", set()),  # two names of one record never join
        ("诊断:病3级", {20}),
        ("诊断:慢性阻塞性肺疾病", {20}),
        ("诊断:疾病急性加重期", set()),
        ("诊断:急性加重期高血压病3级", {20}),
    ],
)
def test_pair_queries_respect_run_boundaries(index, query, expected):
    assert found(index, query) == expected
