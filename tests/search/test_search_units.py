"""AND, OR and NOT at the level a clinician means: the record by default, the document or the page
on request; field terms keep their own unit; codes cover their subdivisions."""
from __future__ import annotations

from datetime import date

import pytest

from bingan.search import tantivy_index
from bingan.search.checking import Reference, generate_pages, unit_queries
from bingan.search.port import PageDoc, Scope
from bingan.search.query import QueryError, parse

ADMISSION, DISCHARGE = ("RY", "入院记录", "RY01"), ("CY", "出院记录", "CY01")


def page(record: int, document: int, number: int, text: str, kind=ADMISSION, **extra) -> PageDoc:
    """Page ``number`` of document ``document`` of record ``record`` (one current version each)."""
    fields = dict(
        record_id=record, record_number=f"{record:07d}", stay=1, document_id=record * 10 + document,
        version_id=record * 100 + document, page=number, text=text, patient_name=f"患者{record}",
        department="HXK", department_name="呼吸内科", category=kind[0], category_name=kind[1],
        document_type=kind[2], document_type_name=kind[1], discharged_at=date(2025, 3, 2),
    )
    fields.update(extra)
    return PageDoc(**fields)


# record 1: 肺炎 in the admission note, 咳嗽 in the discharge summary
# record 2: 肺炎 in the admission note, 结核 on the second page of that note
# record 3: 肺炎 and 咳嗽 on one page of the discharge summary; diagnosis J18.900
# record 4: 肺炎 on page 1 and 咳嗽 on page 2 of one admission note; diagnosis J18 (no subdivision)
PAGES = [
    page(1, 1, 1, "主诉：发热三天，诊断肺炎。"),
    page(1, 2, 1, "出院时仍有咳嗽。", DISCHARGE),
    page(2, 1, 1, "入院诊断：肺炎。"),
    page(2, 1, 2, "既往肺结核病史。"),
    page(3, 1, 1, "出院诊断：肺炎，咳嗽好转。", DISCHARGE, diagnosis_codes=["J18.900"]),
    page(4, 1, 1, "考虑肺炎", diagnosis_codes=["J18"]),
    page(4, 1, 2, "咳嗽咳痰", diagnosis_codes=["J18"]),
]


@pytest.fixture
def index(make_index):
    return make_index(PAGES)


def records(index, query: str, scope: Scope | None = None) -> set[int]:
    result = index.search(query, scope or Scope.everything(), limit=50)
    found = {r.record_id for r in result.records}
    assert result.total_records == len(found) and result.total_records_exact
    return found


def test_and_combines_terms_on_different_documents_of_a_record(index):
    assert records(index, "肺炎 咳嗽") == {1, 3, 4}


def test_and_combines_within_one_document_on_request(index):
    assert records(index, "肺炎 咳嗽 单位:文书") == {3, 4}


def test_and_combines_within_one_page_on_request(index):
    assert records(index, "肺炎 咳嗽 单位:页") == {3}


def test_not_excludes_records_with_the_term_on_any_page(index):
    assert records(index, "肺炎 -结核") == {1, 3, 4}
    assert records(index, "肺炎 -结核 单位:页") == {1, 2, 3, 4}  # page 1 of record 2 has no 结核


def test_a_pure_negation_lists_the_other_records(index):
    assert records(index, "-咳嗽") == {2}


def test_a_record_matching_through_a_negated_branch_of_an_or_shows_all_its_pages(index):
    result = index.search("发热 OR -咳嗽", Scope.everything(), limit=10)
    assert records(index, "发热 OR -咳嗽") == {1, 2}
    assert next(r for r in result.records if r.record_id == 2).matched_pages == 2


def test_a_record_attribute_chooses_no_page_of_the_record(index):
    result = index.search("肺炎 诊断:J18", Scope.everything(), limit=10)
    assert {r.record_id for r in result.records} == {3, 4}
    assert next(r for r in result.records if r.record_id == 4).matched_pages == 1  # 肺炎's page only


def test_a_document_field_keeps_its_document_unit(index):
    assert records(index, "文书:出院记录 肺炎") == {3}
    assert records(index, "(文书:出院记录 咳嗽) 肺炎") == {1, 3}


def test_a_phrase_never_crosses_a_page(index):
    assert records(index, '"肺炎咳嗽"') == set()


def test_snippets_come_from_the_pages_that_matched(index):
    result = index.search("肺炎 咳嗽", Scope.everything(), limit=10)
    hit = next(r for r in result.records if r.record_id == 1)
    assert {h.document_id for h in hit.hits} == {11, 12}
    assert all("<mark>" in h.snippet for h in hit.hits)
    only_discharge = index.search("文书:出院记录 咳嗽", Scope.everything(), limit=10)
    assert {h.document_id for r in only_discharge.records for h in r.hits} == {12, 31}


def test_pages_the_user_may_not_see_never_make_a_record_match(index):
    scope = Scope(all_departments=True, allowed_categories={"RY"})  # discharge summaries hidden
    assert records(index, "肺炎 咳嗽", scope) == {4}
    assert records(index, "肺炎 -咳嗽", scope) == {1, 2}


def test_paging_and_facets_count_records(index):
    result = index.search("肺炎", Scope.everything(), limit=2)
    assert (result.total_records, result.total, len(result.records)) == (4, 4, 2)
    assert dict(result.facets["category"]) == {"RY": 3, "CY": 1}


def test_a_diagnosis_code_covers_its_subdivisions(index):
    assert records(index, "诊断:J18") == {3, 4}
    assert records(index, "诊断:j18.9") == {3}


def test_a_quoted_code_is_that_code_only(index):
    assert records(index, '诊断:"J18"') == {4}


def test_lower_case_operators_suggest_the_upper_case_query(index):
    result = index.search("咳嗽 or 结核", Scope.everything())
    assert result.suggestion == "咳嗽 OR 结核"
    assert index.search("咳嗽 OR 结核", Scope.everything()).suggestion == ""


@pytest.mark.parametrize("query", ["肺炎 单位:床", "肺炎 单位:页 单位:文书", "单位:页"])
def test_a_wrong_unit_is_explained(query):
    with pytest.raises(QueryError):
        parse(query)


def test_records_beyond_one_aggregation_are_read_in_ranges_of_record_ids(monkeypatch):
    docs = list(generate_pages(300, seed=5))
    index = tantivy_index.TantivySearchIndex(None)
    index.add(docs)
    index.commit()
    monkeypatch.setattr(tantivy_index, "RECORDS_PER_AGGREGATION", 3)  # ~30 records: ~10 ranges
    reference = Reference(docs)
    for query in unit_queries(20):
        result = index.search(query, Scope.everything(), limit=10_000, group_by_record=False, facets=False)
        assert {f"{h.version_id}:{h.page}" for r in result.records for h in r.hits} == reference.search(
            query, Scope.everything()), query
