"""Text per page with boxes in points: the body in reading order, then the annotations."""
from __future__ import annotations

import itertools

from bingan.formats import wraps
from bingan.formats.base import FormatError, PageText, TextBox
from bingan.formats.ofd import geometry as g
from bingan.formats.ofd.reader import Item, OfdDocument, TextItem, advance

ASCENT = 0.88  # share of the font size above the baseline; the rest is descent
# Two boxes are on the same line when their vertical centres differ by less than this share
# of the smaller box's height.
LINE_TOLERANCE = 0.5
DECORATIVE = {"stamp", "watermark"}  # annotation types whose text is not page text


def item_boxes(item: TextItem) -> list[TextBox]:
    """One box per TextCode, transformed to page points."""
    boxes: list[TextBox] = []
    size = item.size
    m = g.compose(item.matrix, (g.MM_TO_PT, 0, 0, g.MM_TO_PT, 0, 0))
    for run in item.runs:
        text = run.text.strip()
        if not text:
            continue
        x_end = max(run.xs) + advance(run.text[-1], size) * item.hscale
        y_min, y_max = min(run.ys), max(run.ys)
        corners = [(min(run.xs), y_min - size * ASCENT), (x_end, y_min - size * ASCENT),
                   (min(run.xs), y_max + size * (1 - ASCENT)), (x_end, y_max + size * (1 - ASCENT))]
        pts = [g.apply(m, x, y) for x, y in corners]
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        boxes.append(TextBox(text, min(xs), min(ys), max(xs), max(ys)))
    return boxes


def reading_order(boxes: list[TextBox]) -> list[list[TextBox]]:
    """Group boxes into lines top to bottom, each line left to right."""
    lines: list[list[TextBox]] = []
    centres: list[float] = []
    heights: list[float] = []
    for box in sorted(boxes, key=lambda b: ((b.y0 + b.y1) / 2, b.x0)):
        centre, height = (box.y0 + box.y1) / 2, box.y1 - box.y0
        if lines and abs(centre - centres[-1]) < LINE_TOLERANCE * min(height, heights[-1]):
            lines[-1].append(box)
            continue
        lines.append([box])
        centres.append(centre)
        heights.append(height)
    for line in lines:
        line.sort(key=lambda b: b.x0)
    return lines


def _join(line: list[TextBox]) -> str:
    parts = [line[0].text]
    for prev, box in itertools.pairwise(line):
        if _apart(prev, box):
            parts.append(" ")
        parts.append(box.text)
    return "".join(parts)


def _apart(prev: TextBox, box: TextBox) -> bool:
    """A visible gap (over half a character) between runs is a word or column break."""
    return box.x0 - prev.x1 > 0.5 * (box.y1 - box.y0)


def _wrap_line(line: list[TextBox]) -> wraps.Line:
    """A line's text and extent for the soft-wrap rule (wraps.py). A box is as high as its
    font size (item_boxes); separate runs apart from each other are separate fields."""
    return wraps.Line(_join(line), min(b.x0 for b in line), min(b.y0 for b in line), max(b.x1 for b in line),
                      max(b.y1 for b in line), max(b.y1 - b.y0 for b in line),
                      1 + sum(map(_apart, line, line[1:])))


def _text_boxes(items: list[Item]) -> list[TextBox]:
    return [b for item in items if isinstance(item, TextItem) for b in item_boxes(item)]


def annotation_lines(doc: OfdDocument, number: int) -> list[list[TextBox]]:
    """Lines of text the page's annotations draw, stamps and watermarks excepted.

    An annotation's text (a reviewer's note, a FreeText box, a custom comment) is on the page
    the reader sees, so search must find it; Link, Path and Highlight annotations draw no
    text. A seal's ring text and a watermark's repeated words say nothing about the record
    and would pollute search, so they stay out. Annotations are kept after the body rather
    than merged by position: a note laid over a form must not split the form's lines.
    """
    try:
        annots = doc.annotations(number)
    except FormatError:
        return []  # annotations are optional; a broken file must not lose the page text
    items = [item for a in annots if a.type.lower() not in DECORATIVE for item in a.items]
    return reading_order(_text_boxes(items))


def page_text(doc: OfdDocument, number: int) -> PageText:
    """The body text in reading order, then the annotations' text.

    A page without body text (a scan) gets no annotation text either: it stays empty, so it
    goes to OCR, which reads the annotations from the rendered page with the rest.
    """
    page = doc.page(number)
    lines = reading_order(_text_boxes(page.items))
    if lines:
        lines += annotation_lines(doc, number)
    ordered = [b for line in lines for b in line]
    text = wraps.join_lines([_wrap_line(line) for line in lines])
    has_content = bool(page.items)
    return PageText(number=number, text=text, boxes=ordered,
                    source="text" if text else "none", needs_ocr=not text and has_content)


def document_texts(doc: OfdDocument) -> list[PageText]:
    return [page_text(doc, n) for n in range(1, len(doc.pages) + 1)]
