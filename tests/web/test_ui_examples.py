"""Every search example the UI shows (the search box placeholder, the home page box, the help shown
for an empty query, the README's search table) finds records in the demo data that `make run`
loads (bingan.ingest.demo, the same seed and size)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from bingan.ingest.demo import generate
from bingan.ingest.embedded import DEMO_RECORDS
from bingan.search.port import PageDoc, Scope
from bingan.search.tantivy_index import TantivySearchIndex
from bingan.web.search.service import EXAMPLES

README = Path(__file__).resolve().parents[2] / "README.md"


def _text(page) -> str:
    return "\n".join(line if isinstance(line, str) else "  ".join(line) for line in page)


def demo_pages():
    for rid, record in enumerate(generate(DEMO_RECORDS), start=1):
        for did, document in enumerate(record.documents, start=1):
            for number, page in enumerate(document.pages, start=1):
                yield PageDoc(
                    record_id=rid, record_number=record.record_number, stay=record.stay,
                    document_id=rid * 1000 + did, version_id=rid * 1000 + did, page=number,
                    text=_text(page), patient_name=record.name, id_number=record.id_number,
                    document_type=document.type_code,
                    document_type_name=document.title, category_name=document.title,
                    department=record.dept.code, department_name=record.dept.name,
                    campus=record.campus, admitted_at=record.admitted_at,
                    discharged_at=record.discharged_at, record_kind=record.kind,
                    diagnosis_codes=[code for code, _ in record.diagnoses],
                    diagnosis_names=[name for _, name in record.diagnoses],
                    operation_codes=[code for code, _ in record.operations],
                    operation_names=[name for _, name in record.operations],
                )


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory):
    index = TantivySearchIndex(tmp_path_factory.mktemp("demo-index"), heap_size=30_000_000)
    index.add(demo_pages(), upsert=False)
    index.commit()
    yield index
    index.close()


def placeholder_examples(html: str) -> list[str]:
    found = re.findall(r'placeholder="[^"]*例如：([^"]*)"', html)
    assert found, "no example placeholder on the page"
    return [e.replace("&quot;", '"') for text in found for e in text.split("、")]


def help_examples(html: str) -> list[str]:
    section = html.split('id="search-help"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr><td>([^<]*)</td>", section)
    links = re.findall(r'<li><a href="[^"]*">([^<]*)</a></li>', section)
    return links + [q for row in rows for q in row.split("、")]


def readme_examples() -> list[str]:
    """The search table's first column: every `query` written there (field lists excluded)."""
    section = README.read_text(encoding="utf-8").split("## 检索", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    queries = [q for row in rows for q in re.findall(r"`([^`]+)`", row)]
    return [q for q in queries if not q.endswith(":") and q not in {"|", "NOT", "!", "*"}]


def test_the_examples_shown_in_the_ui_find_demo_records(client_for, demo_index):
    archivist = client_for("archivist")
    shown = {
        "检索框": placeholder_examples(archivist.get("/search").text),
        "首页": placeholder_examples(archivist.get("/").text),
        "检索帮助": help_examples(archivist.get("/search").text),
        "README": readme_examples(),
        "EXAMPLES": EXAMPLES,
    }
    empty = [
        (where, query) for where, queries in shown.items() for query in queries
        if demo_index.search(query, Scope.everything(), limit=1).total_records == 0
    ]
    assert sum(len(q) for q in shown.values()) >= 20
    assert empty == []
