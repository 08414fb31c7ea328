"""Version comparison (版本对比): pages aligned by content, text differences per page, changed regions.

Pages are aligned, not paired by number: an inserted page shifts nothing. Equal pages (same
text, same image hash) are found as the longest common subsequence of the two page lists;
between two equal runs the remaining pages are paired in order by text similarity (character
bigrams), and what pairs with nothing is added or removed.

Text is compared by token — one Chinese character, or one run of Latin letters and digits — so a
changed word in a Chinese sentence is marked as that word, not as the whole line.

Visual differences compare two renders: both are shrunk to ``SCAN_WIDTH``, the pixels that differ
by more than ``THRESHOLD`` grey levels are grown by ``MERGE_PX`` so nearby marks merge, and each
connected region becomes a box, given as fractions of the page size.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image
from sqlalchemy.orm import Session

from bingan.errors import NotFound, Refusal
from bingan.storage.models import Document, Page, Version

SIMILAR = 0.45  # below this two pages are different pages, not one page changed
SCAN_WIDTH = 400
THRESHOLD = 48
MERGE_PX = 6
MIN_AREA = 4  # pixels at scan size: anti-aliasing noise is smaller
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%/-]*|\s+|.", re.S)

Render = Callable[[Version, int], Image.Image]


@dataclass(frozen=True)
class TextChange:
    op: str  # equal | insert | delete | replace
    a_text: str
    b_text: str

    def as_json(self) -> dict:
        return {"op": self.op, "a_text": self.a_text, "b_text": self.b_text}


@dataclass(frozen=True)
class Region:
    x: float
    y: float
    w: float
    h: float

    def as_json(self) -> dict:
        return {"x": round(self.x, 4), "y": round(self.y, 4), "w": round(self.w, 4), "h": round(self.h, 4)}


@dataclass
class PagePair:
    a_page: int | None
    b_page: int | None
    status: str  # same | changed | added | removed
    segments: list[TextChange] = field(default_factory=list)  # the whole text, equal parts included
    regions: list[Region] | None = None  # None: not computed (yet)

    @property
    def text_changes(self) -> list[TextChange]:
        return [segment for segment in self.segments if segment.op != "equal"]

    def as_json(self) -> dict:
        answer = {"a_page": self.a_page, "b_page": self.b_page, "status": self.status,
                  "text_changes": [change.as_json() for change in self.text_changes],
                  "regions": [region.as_json() for region in self.regions or []]}
        if self.status == "changed" and self.regions is None:
            answer["regions_lazy"] = True
        return answer


@dataclass
class Comparison:
    document: Document
    a: Version
    b: Version
    pages: list[PagePair]

    @property
    def changes(self) -> int:
        return sum(pair.status != "same" for pair in self.pages)

    def as_json(self) -> dict:
        return {"document_id": self.document.id, "a": self.a.number, "b": self.b.number,
                "a_version_id": self.a.id, "b_version_id": self.b.id,
                "pages": [pair.as_json() for pair in self.pages]}


# --- choosing the versions ---------------------------------------------------------------------

def version_numbered(session: Session, document: Document, number: int) -> Version:
    for version in document.versions:
        if version.number == number:
            return version
    raise NotFound(f"该文书没有第 {number} 版（共 {len(document.versions)} 版）")


def default_pair(document: Document) -> tuple[int, int]:
    """Without a choice: the version before the current one against the current one."""
    numbers = [version.number for version in document.versions]
    if not numbers:
        raise NotFound("该文书还没有任何版本")
    current = document.current_version.number if document.current_version else numbers[-1]
    earlier = [number for number in numbers if number < current]
    return (earlier[-1] if earlier else current), current


def compare(session: Session, document: Document, a_number: int, b_number: int) -> Comparison:
    a, b = version_numbered(session, document, a_number), version_numbered(session, document, b_number)
    if not (a.pages or b.pages) and (a.page_count or b.page_count):
        raise Refusal("该文书没有逐页文本（如视频），不能逐页对比")
    return Comparison(document, a, b, compare_pages(a.pages, b.pages))


# --- aligning pages ----------------------------------------------------------------------------

def compare_pages(a_pages: Sequence[Page], b_pages: Sequence[Page]) -> list[PagePair]:
    keys_a, keys_b = [_key(page) for page in a_pages], [_key(page) for page in b_pages]
    pairs: list[PagePair] = []
    matcher = difflib.SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pairs += [PagePair(a_pages[i].number, b_pages[j].number, "same")
                      for i, j in zip(range(i1, i2), range(j1, j2), strict=True)]
        else:
            pairs += _pair_by_similarity(a_pages[i1:i2], b_pages[j1:j2])
    return pairs


def _pair_by_similarity(a_pages: Sequence[Page], b_pages: Sequence[Page]) -> list[PagePair]:
    """Order-keeping pairing that maximises total similarity (a small LCS over the gap)."""
    grams_a, grams_b = [_bigrams(page.text) for page in a_pages], [_bigrams(page.text) for page in b_pages]
    score = [[_similarity(x, y) for y in grams_b] for x in grams_a]
    m, n = len(a_pages), len(b_pages)
    best = [[0.0] * (n + 1) for _ in range(m + 1)]
    for i in range(m - 1, -1, -1):
        for j in range(n - 1, -1, -1):
            matched = best[i + 1][j + 1] + score[i][j] if score[i][j] >= SIMILAR else -1.0
            best[i][j] = max(matched, best[i + 1][j], best[i][j + 1])
    pairs, i, j = [], 0, 0
    while i < m or j < n:
        if i < m and j < n and score[i][j] >= SIMILAR and best[i][j] == best[i + 1][j + 1] + score[i][j]:
            pairs.append(_paired(a_pages[i], b_pages[j]))
            i, j = i + 1, j + 1
        elif i < m and (j == n or best[i][j] == best[i + 1][j]):
            pairs.append(PagePair(a_pages[i].number, None, "removed",
                                  [TextChange("delete", a_pages[i].text, "")] if a_pages[i].text else []))
            i += 1
        else:
            pairs.append(PagePair(None, b_pages[j].number, "added",
                                  [TextChange("insert", "", b_pages[j].text)] if b_pages[j].text else []))
            j += 1
    return pairs


def _key(page: Page) -> tuple[str, str]:
    return "".join(page.text.split()), page.image_hash


def _paired(a: Page, b: Page) -> PagePair:
    """Same text and no image evidence of a change (hashes equal or one unknown) is the same page."""
    same_text = _key(a)[0] == _key(b)[0]
    if same_text and (a.image_hash == b.image_hash or not (a.image_hash and b.image_hash)):
        return PagePair(a.number, b.number, "same")
    return PagePair(a.number, b.number, "changed", diff_text(a.text, b.text))


def _bigrams(text: str) -> set[str]:
    compact = "".join(text.split())
    return {compact[k:k + 2] for k in range(len(compact) - 1)} or ({compact} if compact else set())


def _similarity(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0  # two blank pages (scans without text) pair in order; their images tell the change
    return len(a & b) / len(a | b) if a | b else 0.0


# --- text --------------------------------------------------------------------------------------

def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def diff_text(a: str, b: str) -> list[TextChange]:
    """The whole of both texts as segments: equal parts and what was inserted, deleted, replaced."""
    ta, tb = tokens(a), tokens(b)
    matcher = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
    return [TextChange(op, "".join(ta[i1:i2]), "".join(tb[j1:j2])) for op, i1, i2, j1, j2 in matcher.get_opcodes()]


# --- pixels ------------------------------------------------------------------------------------

def changed_regions(a: Image.Image, b: Image.Image) -> list[Region]:
    """Boxes around what differs between two renders of a page, as fractions of the page."""
    height = max(1, round(a.height * SCAN_WIDTH / a.width))
    small_a = np.asarray(a.convert("L").resize((SCAN_WIDTH, height), Image.BILINEAR), dtype=np.int16)
    small_b = np.asarray(b.convert("L").resize((SCAN_WIDTH, height), Image.BILINEAR), dtype=np.int16)
    mask = (np.abs(small_a - small_b) > THRESHOLD).astype(np.uint8)
    if not mask.any():
        return []
    grown = cv2.dilate(mask, np.ones((2 * MERGE_PX + 1, 2 * MERGE_PX + 1), np.uint8))
    count, labels, stats, _centres = cv2.connectedComponentsWithStats(grown, connectivity=8)
    boxes = []
    for label in range(1, count):
        x, y, w, h, _area = stats[label]
        core = mask[y:y + h, x:x + w] & (labels[y:y + h, x:x + w] == label)
        if core.sum() < MIN_AREA:
            continue
        # The box is drawn around the differing pixels, not the grown ones.
        ys, xs = np.nonzero(core)
        boxes.append(Region((x + xs.min()) / SCAN_WIDTH, (y + ys.min()) / height,
                            (xs.max() - xs.min() + 1) / SCAN_WIDTH, (ys.max() - ys.min() + 1) / height))
    return sorted(boxes, key=lambda box: (box.y, box.x))


def regions_for(pair: PagePair, a: Version, b: Version, render: Render) -> list[Region]:
    if pair.status != "changed" or pair.a_page is None or pair.b_page is None:
        return []
    return changed_regions(render(a, pair.a_page), render(b, pair.b_page))


def fill_regions(comparison: Comparison, render: Render, limit: int) -> None:
    """Regions of the first ``limit`` changed pages now; later ones stay to be asked for per page."""
    for pair in [pair for pair in comparison.pages if pair.status == "changed"][:limit]:
        pair.regions = regions_for(pair, comparison.a, comparison.b, render)


def pair_of_page(comparison: Comparison, b_page: int | None, a_page: int | None = None) -> PagePair:
    for pair in comparison.pages:
        if (b_page is not None and pair.b_page == b_page) or (b_page is None and pair.a_page == a_page):
            return pair
    raise NotFound("对比结果中没有该页")
