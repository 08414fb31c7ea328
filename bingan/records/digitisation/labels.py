"""Record and box labels as PDF (病案条码标签, C5): a Code 128 barcode that a USB scanner types back
as 病案号-住院次数 (or the box's barcode), a QR code carrying the chosen fields, and the same
fields printed in Chinese; one label a page for 50 × 30 mm label printers, or 3 × 8 on A4."""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import code128, qr
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from bingan.clock import local_date
from bingan.errors import Refusal
from bingan.storage.models import Record
from bingan.storage.models.digitisation import PaperBox

FONT = "STSong-Light"  # reportlab's built-in CID font: Chinese without shipping a font file
# What a label can carry, in the order it prints (configurable per print: the fields asked for).
FIELDS = {"record_number": "病案号", "stay": "住院次数", "name": "姓名", "discharge_date": "出院日期",
          "department": "科室"}
DEFAULT_FIELDS = tuple(FIELDS)
SIZES = {"50x30": "50 × 30 mm 标签纸", "a4": "A4 不干胶（3 × 8）"}
LABEL_W, LABEL_H = 50 * mm, 30 * mm
A4_COLUMNS, A4_ROWS = 3, 8
A4_MARGIN_X, A4_MARGIN_Y = 7 * mm, 10 * mm
MAX_LABELS = 500


@dataclass(frozen=True)
class Label:
    code: str  # what the Code 128 encodes (and the scanner types)
    lines: tuple[str, ...]  # printed beside the QR code, and what the QR code carries

    @property
    def qr_text(self) -> str:
        return "\n".join(self.lines)


def parse_fields(text: str) -> tuple[str, ...]:
    if not text.strip():
        return DEFAULT_FIELDS
    fields = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [field for field in fields if field not in FIELDS]
    if unknown:
        raise Refusal(f"标签内容只能是 {', '.join(FIELDS)}，不认识：{', '.join(unknown)}")
    return fields


def record_code(record: Record) -> str:
    return f"{record.record_number}-{record.stay_number}"


def record_label(record: Record, fields: Sequence[str]) -> Label:
    department = record.discharge_department or record.admission_department
    values = {
        "record_number": record.record_number, "stay": str(record.stay_number), "name": record.patient.name,
        "discharge_date": local_date(record.discharged_at).isoformat() if record.discharged_at else "",
        "department": department.name if department else "",
    }
    return Label(record_code(record), tuple(f"{FIELDS[f]}：{values[f]}" for f in fields))


def box_label(box: PaperBox, place: str) -> Label:
    return Label(box.barcode, tuple(line for line in (f"病案盒：{box.barcode}", box.title, place) if line))


def labels_pdf(labels: Sequence[Label], size: str) -> bytes:
    if size not in SIZES:
        raise Refusal("标签规格应为 50x30 或 a4")
    if not labels:
        raise Refusal("请选择要打印标签的病案或病案盒")
    if len(labels) > MAX_LABELS:
        raise Refusal(f"一次最多打印 {MAX_LABELS} 张标签")
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    out = io.BytesIO()
    if size == "50x30":
        pdf = canvas.Canvas(out, pagesize=(LABEL_W, LABEL_H))
        for label in labels:
            _draw(pdf, label, 0, 0)
            pdf.showPage()
    else:
        pdf = canvas.Canvas(out, pagesize=A4)
        cell_w = (A4[0] - 2 * A4_MARGIN_X) / A4_COLUMNS
        cell_h = (A4[1] - 2 * A4_MARGIN_Y) / A4_ROWS
        per_page = A4_COLUMNS * A4_ROWS
        for index, label in enumerate(labels):
            if index and index % per_page == 0:
                pdf.showPage()
            row, column = divmod(index % per_page, A4_COLUMNS)
            x = A4_MARGIN_X + column * cell_w + (cell_w - LABEL_W) / 2
            y = A4[1] - A4_MARGIN_Y - (row + 1) * cell_h + (cell_h - LABEL_H) / 2
            _draw(pdf, label, x, y)
        pdf.showPage()
    pdf.setTitle("病案标签")
    pdf.save()
    return out.getvalue()


def _draw(pdf: canvas.Canvas, label: Label, x: float, y: float) -> None:
    """One 50 × 30 mm label at (x, y): Code 128 along the top, QR code bottom left, text beside it."""
    bar = code128.Code128(label.code, barHeight=8 * mm, barWidth=0.3 * mm, humanReadable=True, fontSize=6,
                          quiet=True, lquiet=2 * mm, rquiet=2 * mm)
    scale = min(1.0, (LABEL_W - 2 * mm) / bar.width)
    pdf.saveState()
    pdf.translate(x + (LABEL_W - bar.width * scale) / 2, y + LABEL_H - 12 * mm)
    pdf.scale(scale, 1)
    bar.drawOn(pdf, 0, 0)
    pdf.restoreState()
    side = 16 * mm
    widget = qr.QrCodeWidget(label.qr_text, barLevel="M")
    left, bottom, right, top = widget.getBounds()
    drawing = Drawing(side, side, transform=[side / (right - left), 0, 0, side / (top - bottom), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, pdf, x + 1 * mm, y + 1 * mm)
    pdf.setFont(FONT, 5.5)
    for number, line in enumerate(label.lines[:5]):
        pdf.drawString(x + side + 2 * mm, y + side - 1.5 * mm - number * 3 * mm, line[:18])
