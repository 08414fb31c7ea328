"""The Han bigram field must answer exactly what the unigram phrase answers."""
from __future__ import annotations

import pytest

from bingan.search.analysis import (
    _HAN_RANGES,
    analyze,
    bigrams,
    han_bigram_values,
    is_han_run,
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
}


def test_values_are_runs_of_overlapping_bigrams():
    assert han_bigram_values("糖 尿病，肾病") == ["糖尿 尿病", "肾病"]
    assert han_bigram_values("病3级") == []
    assert han_bigram_values("肺\x1f炎") == []
    assert han_bigram_values("冠状动脉\r\n粥样") == ["冠状 状动 动脉", "粥样"]
    assert han_bigram_values("\U00020000\U00020001") == ["\U00020000\U00020001"]


def test_query_side_routing():
    assert is_han_run(("糖", "尿")) and bigrams(("糖", "尿", "病")) == ["糖尿", "尿病"]
    assert not is_han_run(("肺",))
    assert not is_han_run(("病", "3", "级"))
    assert not is_han_run(("β", "受"))


def test_every_han_character_is_its_own_unchanged_token():
    # the bigram field is built in Python from raw characters; it agrees with the unigram
    # field only if the analyser (lowercase, ascii_fold) leaves every Han character alone
    chars = [chr(cp) for lo, hi in _HAN_RANGES for cp in range(lo, hi + 1)]
    assert analyze(" ".join(chars)) == chars


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    idx = TantivySearchIndex(tmp_path_factory.mktemp("bigrams") / "index", heap_size=15_000_000)
    idx.add(
        PageDoc(record_id=n, record_number=f"{n:07d}", stay=1, document_id=n, version_id=n,
                page=1, text=text)
        for n, text in TEXTS.items()
    )
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
        ("NOT 尿病", {3, 4, 5, 6}),
    ],
)
def test_bigram_queries_respect_run_boundaries(index, query, expected):
    assert found(index, query) == expected
