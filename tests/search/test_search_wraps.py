"""Words wrapped across a line are found: page text extracted from a generated PDF (a narrow
column wrapped inside 结核, 肺炎, PCI and pneu-monia; a table, a list, fields and a sentence end
whose breaks stay hard), indexed and searched, and the brute-force checker agrees."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

from bingan.formats.document import open_document
from bingan.search.checking import Reference
from bingan.search.port import PageDoc, Scope, SearchIndex

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import formats_gen

EVERYONE = Scope.everything()
PARAGRAPH, HARD_BREAKS = 1, 2  # record ids: the wrapped paragraphs' page, the hard breaks' page


def _docs() -> list[PageDoc]:
    with open_document(formats_gen.wrapped_pdf(), "application/pdf") as document:
        texts = [page.text for page in document.page_texts(ocr=False)]
    return [PageDoc(record_id=rid, record_number=f"000000{rid}", stay=1, document_id=rid * 10,
                    version_id=rid * 100, page=1, text=text, patient_name=f"患者{rid}", department="XNK",
                    department_name="心血管内科", category="BC", category_name="病程记录",
                    discharged_at=date(2024, 1, rid), year=2024)
            for rid, text in enumerate(texts, start=1)]


DOCS = _docs()


@pytest.fixture
def index(make_index) -> SearchIndex:
    return make_index(DOCS)


def found(index: SearchIndex, query: str) -> set[int]:
    return {r.record_id for r in index.search(query, EVERYONE, limit=10).records}


def checked(query: str) -> set[int]:
    pages = Reference(DOCS).search(query, EVERYONE)
    return {d.record_id for d in DOCS if d.doc_id in pages}


WRAPPED = ["结核", '"结核"', "肺炎", '"曾患肺炎"', "行PCI术", "PCI", "pneumonia", '"right lower lobe"']


@pytest.mark.parametrize("query", WRAPPED)
def test_a_word_wrapped_across_a_line_is_found(index, query):
    assert found(index, query) == {PARAGRAPH}


@pytest.mark.parametrize("query", WRAPPED)
def test_the_brute_force_checker_reads_across_a_soft_wrap(query):
    assert checked(query) == {PARAGRAPH}


# 疑似结|核抗体 (table rows), 结|2. 核酸 (list items), 张三|性别 (fields), 出院。|肺部 (a sentence end)
@pytest.mark.parametrize("query", ["结核抗体", "结2", "三性", "院肺"])
def test_hard_breaks_make_no_pairs(index, query):
    assert found(index, query) == set() == checked(query)


def test_hard_break_pages_hold_no_wrapped_word(index):
    assert HARD_BREAKS not in found(index, "结核") | checked("结核")


def test_the_snippet_marks_the_word_across_the_wrap_on_one_line(index):
    snippet = index.search("结核", EVERYONE, limit=10).records[0].hits[0].snippet
    assert "<mark>结核</mark>" in snippet
