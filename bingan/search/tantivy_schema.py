"""The tantivy schema of Bingan's pages and record documents, and how a page becomes a tantivy
document (fields, folded values, name pairs, access terms)."""
from __future__ import annotations

import tantivy

from bingan.search.analysis import (
    BIGRAM_TOKENIZER_NAME,
    KEYWORD_TOKENIZER_NAME,
    TOKENIZER_NAME,
    word_pair_values,
)
from bingan.search.negation import affirmed_text
from bingan.search.port import (
    PageDoc,
)
from bingan.search.tantivy_query import access_terms, as_datetime
from bingan.search.tantivy_records import MARK_FIELD, SOURCE_FIELD

ZH, KW, RAW = TOKENIZER_NAME, KEYWORD_TOKENIZER_NAME, "raw"


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("doc_id", tokenizer_name=RAW, index_option="basic")
    for name in ("record_id", "version_id", "document_id"):
        sb.add_integer_field(name, stored=True, indexed=True, fast=True)
    sb.add_integer_field("page", stored=True)
    for name in ("stay", "year", "confidentiality", "sealed"):
        sb.add_integer_field(name, stored=name in ("stay", "year"), indexed=True, fast=True)
    sb.add_text_field("record_number", stored=True, tokenizer_name=KW, index_option="basic")
    for name in ("record_keys", "id_number", "diagnosis_codes", "operation_codes"):
        sb.add_text_field(name, tokenizer_name=KW, index_option="basic")
    for name in ("category", "department", "record_kind", "campus"):
        sb.add_text_field(name, stored=True, fast=True, tokenizer_name=RAW, index_option="basic")
    for name in ("document_type", "tags"):
        sb.add_text_field(name, tokenizer_name=RAW, index_option="basic")
    for name in ("patient_name", "category_name", "document_type_name", "department_name"):
        sb.add_text_field(name, stored=True, tokenizer_name=ZH)
    for name in ("diagnosis_names", "operation_names"):
        sb.add_text_field(name, tokenizer_name=ZH)
    for name in ("admitted_at", "discharged_at"):
        sb.add_date_field(name, stored=True, indexed=True, fast=True)
    sb.add_text_field("text", stored=True, tokenizer_name=ZH)
    # a page with a negated mention: its text with them cut out (negation.py), and the mark "negated"
    sb.add_text_field("affirmed_text", tokenizer_name=ZH)
    sb.add_text_field("negated", tokenizer_name=RAW, index_option="basic")
    for name in ("text_pairs", "diagnosis_pairs", "operation_pairs"):
        sb.add_text_field(name, tokenizer_name=BIGRAM_TOKENIZER_NAME)
    sb.add_text_field("access", tokenizer_name=RAW, index_option="basic")
    # the aggregated record documents (tantivy_records.py): their mark, permission terms, attributes
    for name in (MARK_FIELD, "record_access"):
        sb.add_text_field(name, tokenizer_name=RAW, index_option="basic")
    sb.add_text_field("record_text", tokenizer_name=ZH)  # not stored: the pages store the text
    sb.add_text_field("record_pairs", tokenizer_name=BIGRAM_TOKENIZER_NAME)
    sb.add_bytes_field(SOURCE_FIELD, stored=True)
    return sb.build()


def _name_pairs(names: list[str]) -> list[str]:
    return [value for name in names for value in word_pair_values(name)]


def record_fields(doc: PageDoc) -> dict[str, object]:
    """The fields every page of a record has alike, as the page and the record document index them."""
    fields: dict[str, object] = {
        "record_id": doc.record_id,
        "stay": doc.stay,
        "confidentiality": doc.confidentiality,
        "sealed": int(doc.sealed),
        "record_number": doc.record_number,
        "record_keys": [doc.record_number, *doc.aliases],
        "id_number": doc.id_number,
        "diagnosis_codes": doc.diagnosis_codes,
        "operation_codes": doc.operation_codes,
        "department": doc.department,
        "record_kind": doc.record_kind,
        "campus": doc.campus,
        "tags": doc.tags,
        "patient_name": doc.patient_name,
        "department_name": doc.department_name,
        "diagnosis_names": doc.diagnosis_names,
        "operation_names": doc.operation_names,
        "diagnosis_pairs": _name_pairs(doc.diagnosis_names),
        "operation_pairs": _name_pairs(doc.operation_names),
        "record_access": access_terms(doc),
    }
    if doc.discharge_year is not None:
        fields["year"] = doc.discharge_year
    if doc.admitted_at:
        fields["admitted_at"] = as_datetime(doc.admitted_at)
    if doc.discharged_at:
        fields["discharged_at"] = as_datetime(doc.discharged_at)
    return fields


def to_document(doc: PageDoc, pairs: list[str], schema: tantivy.Schema) -> tantivy.Document:
    """A page (folded) and its word pairs (``analysis.word_pair_values``)."""
    text = doc.text or ""
    affirmed = affirmed_text(text)
    fields = record_fields(doc)
    fields["access"] = fields.pop("record_access")
    fields.update({
        "doc_id": doc.doc_id,
        "version_id": doc.version_id,
        "document_id": doc.document_id,
        "page": doc.page,
        "category": doc.category,
        "document_type": doc.document_type,
        "category_name": doc.category_name,
        "document_type_name": doc.document_type_name,
        "text": text,
        "text_pairs": pairs,
    })
    if affirmed != text:  # a page without negations is searched in "text" (tantivy_query.Compiler.affirmed)
        fields.update(negated="1", affirmed_text=affirmed)
    return tantivy.Document.from_dict(fields, schema)
