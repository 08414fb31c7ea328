"""A second version of the world's 入院记录, collected after archiving: one word changed on page 1
and a page inserted before the old page 2 (both real PDFs)."""
from __future__ import annotations

import hashlib

import formats_gen
from sqlalchemy import Engine
from world import PAGE_TEXT, World, store_pdf

from bingan.records.documents import DocumentSource, NewContent, PageFacts, add_version
from bingan.storage.db import session_factory
from bingan.storage.models import Document, Record

INSERTED_PAGE = ["会诊记录", "会诊意见：建议加用阿司匹林抗血小板治疗。", "会诊医师：王医生"]


def second_version_pages(number: str) -> list[list[str]]:
    pages = [[line.format(number=number) for line in lines] for lines in PAGE_TEXT]
    pages[0][2] = pages[0][2].replace("胸闷", "胸痛")
    return [pages[0], INSERTED_PAGE, *pages[1:]]


def collect_second_version(engine: Engine, world: World, state: str = "normal") -> int:
    """The id of the new version (held as a pending change: the world's records are archived)."""
    with session_factory(engine)() as session, session.begin():
        document = session.get(Document, world.documents[state][0].id)
        record = session.get(Record, document.record_id)
        pages = second_version_pages(record.record_number)
        data = formats_gen.text_pdf(pages)
        facts = [PageFacts(n, "\n".join(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest())
                 for n, lines in enumerate(pages, start=1)]
        source = DocumentSource(document.source_system, document.source_document_id, document.document_type,
                                title=document.title)
        content = NewContent(store_pdf(data, record.record_number), len(data), "application/pdf", "doc.pdf", facts)
        return add_version(session, record, source, content).version.id
