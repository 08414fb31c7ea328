"""The pipeline on SQLite and PostgreSQL: versions, idempotency, page changes, failures and retries."""
from __future__ import annotations

import json

import sqlalchemy as sa
from ingest_support import ADMISSION, count, pdf

from bingan.ingest.items import Report, enqueue, manual_source
from bingan.ingest.pipeline import retry_items, run_until_settled
from bingan.records.lookup import lookup_record_numbers
from bingan.search.port import Scope
from bingan.storage.models import CollectedItem, DocumentTypeAlias, Page, RecordNumberAlias, Version


def ingest(pipe, data: bytes, *, doc_id: str = "EMR-1", number: str = "0012345", type_code: str = "C0201",
           revision: str | None = None) -> CollectedItem:
    staged = pipe.staging / f"t-{doc_id}-{hash(data)}"
    staged.write_bytes(data)
    with pipe.tx() as session:
        item, _ = enqueue(session, manual_source(session), Report(
            source_document_id=doc_id, record_number=number, stay=1, document_type_code=type_code,
            revision=revision or str(hash(data)), filename="入院记录.pdf"), staged_path=str(staged))
        item_id = item.id
    run_until_settled(pipe, [item_id], timeout=60)
    with pipe.tx() as session:
        found = session.get(CollectedItem, item_id)
        session.expunge(found)
        return found


def test_a_collected_pdf_becomes_a_searchable_version(pipe, record):
    item = ingest(pipe, pdf(ADMISSION))
    assert item.state == "indexed", item.failure_reason
    with pipe.tx() as session:
        version = session.get(Version, item.version_id)
        assert (version.number, version.change_kind, version.page_count) == (1, "added", 2)
        assert version.page_changes == {"added": [1, 2], "removed": [], "updated": []}
        # A born-digital text page is compared by its text hash; no thumbnail is rendered for it.
        assert "咳嗽" in version.pages[0].text and version.pages[0].image_hash == ""
    assert pipe.blobs.exists(item.sha256)
    result = pipe.index.search("社区获得性肺炎", Scope.everything())
    assert result.total == 1 and result.records[0].record_number == record
    assert result.records[0].hits[0].page == 2


def test_the_same_content_twice_makes_one_version(pipe, record):
    first = ingest(pipe, pdf(ADMISSION), revision="a")
    again = ingest(pipe, pdf(ADMISSION), revision="b")  # the source re-sent it under a new revision
    assert again.state == "indexed" and not again.new_version
    assert again.version_id == first.version_id
    assert count(pipe, Version) == 1
    assert pipe.index.search("入院记录", Scope.everything()).total == 1


def test_modification_rounds_make_versions_with_page_changes(pipe, record):
    ingest(pipe, pdf(ADMISSION))
    round2 = [ADMISSION[0], ["体格检查：双肺可闻及湿啰音。", "初步诊断：社区获得性肺炎。"]]
    second = ingest(pipe, pdf(round2))
    round3 = [ADMISSION[0], ["补充：痰培养待回报。"], round2[1]]
    third = ingest(pipe, pdf(round3))
    with pipe.tx() as session:
        v2, v3 = session.get(Version, second.version_id), session.get(Version, third.version_id)
        assert (v2.number, v2.change_kind) == (2, "updated")
        assert v2.page_changes == {"added": [], "removed": [], "updated": [2]}
        assert v3.number == 3 and v3.page_changes == {"added": [2], "removed": [], "updated": []}
        assert v3.document.current_version_id == v3.id
    # Only the current version is searchable: the old page 2 text is gone from the index.
    assert pipe.index.search("呼吸音粗", Scope.everything()).total == 0
    assert pipe.index.search("湿啰音", Scope.everything()).total == 1
    assert pipe.index.search("痰培养", Scope.everything()).records[0].hits[0].page == 2


def test_an_unknown_document_type_fails_with_a_reason_and_can_be_retried(pipe, record):
    item = ingest(pipe, pdf(ADMISSION), type_code="RYJL")
    assert item.state == "failed" and item.failure_code == "type_unknown"
    assert "RYJL" in item.failure_reason and "对照" in item.failure_reason
    with pipe.tx() as session:
        dtype_id = session.scalar(sa.text("select id from document_types where code = 'C0201'"))
        session.add(DocumentTypeAlias(source_system="manual", alias="RYJL", document_type_id=dtype_id))
        assert retry_items(session, [item.id]) == [item.id]
    assert run_until_settled(pipe, [item.id])[item.id] == "indexed"


def test_an_unknown_record_fails_clearly(pipe, record):
    item = ingest(pipe, pdf(ADMISSION), number="9999999")
    assert item.state == "failed" and item.failure_code == "record_missing"
    assert "9999999" in item.failure_reason
    assert count(pipe, Version) == 0


def test_a_damaged_file_fails_permanently_with_the_formats_message(pipe, record):
    item = ingest(pipe, b"%PDF-1.7\n garbage that is not a pdf")
    assert item.state == "failed" and item.failure_code == "format"
    assert item.failure_reason.startswith("文件无法解析")


def test_aliases_resolve_records_and_bulk_lookup_reports_missing(pipe, record):
    with pipe.tx() as session:
        session.add(RecordNumberAlias(alias="OLD-77", record_number=record))
    item = ingest(pipe, pdf(ADMISSION), number="OLD-77")
    assert item.state == "indexed"
    numbers = [record, "OLD-77", *[f"N{i:05d}" for i in range(2000)]]
    with pipe.tx() as session:
        found = lookup_record_numbers(session, numbers)
    assert set(found.found) == {record, "OLD-77"} and found.via_alias == {"OLD-77": record}
    assert len(found.missing) == 2000 and found.found["OLD-77"][0].patient_name == "张三"


def test_an_index_of_an_older_schema_is_rebuilt_by_the_beat_tick(pipe, record):
    """After an upgrade that changes the index schema, search fills again without an operator."""
    from bingan.search.tantivy_index import META_FILE
    from bingan.worker.tick import tick

    ingest(pipe, pdf(ADMISSION))
    pipe.close()
    meta = pipe.settings.resolved_index_dir / META_FILE
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "schema_version": 3}))
    assert pipe.index.search("咳痰", Scope.everything()).total == 0  # the upgraded index opens empty
    assert tick(pipe, run_inline=True)["rebuild_index"] is True
    assert pipe.index.search("咳痰", Scope.everything()).total == 1
    assert tick(pipe, run_inline=True)["rebuild_index"] is False


def test_pages_keep_their_text_for_reindex(pipe, record):
    ingest(pipe, pdf(ADMISSION))
    from bingan.ingest.reindex import reindex

    pipe.close()
    assert reindex(pipe.settings, engine=pipe.engine, fresh=True) == 2
    assert count(pipe, Page) == 2
    pipe._index = None
    assert pipe.index.search("咳痰", Scope.everything()).total == 1
