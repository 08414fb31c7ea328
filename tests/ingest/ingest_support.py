"""Helpers of the collection tests, importable by name: ``from conftest import`` resolves to
whichever directory's conftest was imported first when tests/ingest runs next to tests/formats."""
from __future__ import annotations

import io

import sqlalchemy as sa

from bingan.ingest.demo import CID_FONT


def pdf(pages: list[list[str]]) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    out = io.BytesIO()
    doc = canvas.Canvas(out, pagesize=A4, invariant=1)
    for lines in pages:
        doc.setFont(CID_FONT, 12)
        for n, line in enumerate(lines):
            doc.drawString(72, 770 - 22 * n, line)
        doc.showPage()
    doc.save()
    return out.getvalue()


ADMISSION = [["入院记录", "主诉：咳嗽、咳痰伴发热3天。", "现病史：患者3天前受凉后出现咳嗽。"],
             ["体格检查：双肺呼吸音粗。", "初步诊断：社区获得性肺炎。"]]


def count(pipe, model, *where) -> int:
    with pipe.tx() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))
