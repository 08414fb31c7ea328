"""Pages in every script, read from a born-digital PDF, are found and marked in snippets:
rare name characters of the CJK extension blocks (𠮷 outside the BMP, 䶮 㛃 in extension A),
Korean and Arabic."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

from bingan.formats.document import open_document
from bingan.search.port import PageDoc, Scope, SearchIndex

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import formats_gen


def page(number: str, text: str) -> PageDoc:
    rid = int(number)
    return PageDoc(record_id=rid, record_number=number, stay=1, document_id=rid * 10, version_id=rid * 100,
                   page=1, text=text, patient_name=f"患者{rid}", department="XNK", department_name="心血管内科",
                   category="BC", category_name="病程记录", discharged_at=date(2024, 1, 1), year=2024)


@pytest.fixture(scope="module")
def extracted() -> list[str]:
    data = formats_gen.script_pdf([formats_gen.RARE_NAME_PAGE, formats_gen.KOREAN_PAGE, formats_gen.ARABIC_PAGE])
    return [text.text for text in open_document(data).page_texts()]


@pytest.fixture
def index(make_index, extracted) -> SearchIndex:
    return make_index(page(f"000010{n}", text) for n, text in enumerate(extracted, start=1))


@pytest.mark.parametrize(("query", "record"), [
    ("王𠮷", "0000101"), ("刘䶮", "0000101"), ("㛃", "0000101"), ("𠮷䶮㛃㐂㐄", "0000101"),
    ("김민준", "0000102"), ("당뇨병", "0000102"), ("المريض", "0000103"),
], ids=["ext-b-name", "ext-a-name", "ext-a-char", "ext-run", "korean-name", "korean-word", "arabic-word"])
def test_words_of_any_script_are_found_and_marked(index, query, record):
    records = index.search(query, Scope.everything(), limit=10).records
    assert [hit.record_number for hit in records] == [record]
    assert f"<mark>{query}</mark>" in records[0].hits[0].snippet
