"""Lenient OFD reader (GB/T 33190-2016): document structure, resources and page content.

A page becomes a flat list of drawable items in page coordinates (millimetres, origin top
left), with templates, layers and page blocks already resolved, so text extraction and
rendering share one interpretation of the content.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from xml.etree.ElementTree import Element

from bingan.formats.base import FormatError
from bingan.formats.ofd import geometry as g
from bingan.formats.ofd.package import Package, attr, child, children, path_text
from bingan.formats.ofd.paint import Paint, Palette

MAX_PAGES = 10_000
MAX_DEPTH = 32  # PageBlock / CompositeObject nesting
A4 = (0.0, 0.0, 210.0, 297.0)
DEFAULT_LINE_WIDTH = 0.353  # mm, GB/T 33190 CT_GraphicUnit
DEFAULT_MITER_LIMIT = 4.234
_CAPS = {"butt": 0, "round": 1, "square": 2}
_JOINS = {"miter": 0, "round": 1, "bevel": 2}
# Stroke style attributes shared by graphic units and DrawParams, with their defaults.
_STYLE = {"line_width": "LineWidth", "cap": "Cap", "join": "Join", "miter": "MiterLimit",
          "dash_pattern": "DashPattern", "dash_offset": "DashOffset"}
_LAYER_ORDER = {"background": 0, "body": 1, "foreground": 2}
_BLACK = Paint()  # the default fill and stroke, shared and never changed


@dataclass
class Clip:
    path: list[g.Segment]  # page coordinates


@dataclass
class Glyphs:
    text: str
    xs: list[float]
    ys: list[float]


@dataclass
class TextItem:
    runs: list[Glyphs]
    size: float
    font_id: str
    matrix: g.Matrix  # object space -> page
    fill: bool = True
    stroke: bool = False
    fill_paint: Paint = field(default_factory=Paint)
    stroke_paint: Paint = field(default_factory=Paint)
    hscale: float = 1.0
    clips: list[Clip] = field(default_factory=list)


@dataclass
class PathItem:
    path: list[g.Segment]  # page coordinates
    line_width: float  # page units
    stroke: bool = True
    fill: bool = False
    even_odd: bool = False
    fill_paint: Paint = field(default_factory=Paint)
    stroke_paint: Paint = field(default_factory=Paint)
    matrix: g.Matrix = g.IDENTITY  # object space -> page, where shadings are defined
    dash: tuple[list[float], float] | None = None  # pattern and phase, page units
    cap: int = 0  # PDF codes: butt, round, square
    join: int = 0  # miter, round, bevel
    miter: float = DEFAULT_MITER_LIMIT
    clips: list[Clip] = field(default_factory=list)


@dataclass
class ImageItem:
    resource_id: str
    matrix: g.Matrix  # unit square -> page
    alpha: float = 1.0
    clips: list[Clip] = field(default_factory=list)


Item = TextItem | PathItem | ImageItem


@dataclass
class PageRef:
    id: str
    path: str | None


@dataclass
class Page:
    number: int
    box: tuple[float, float, float, float]
    items: list[Item]


@dataclass
class Annotation:
    type: str  # GB/T 33190 §15: Link, Path, Highlight, Stamp, Watermark; others in the field
    items: list[Item]


@dataclass
class FontRes:
    name: str
    family: str
    path: str | None
    bold: bool = False
    italic: bool = False


@dataclass
class DrawParam:
    """A DrawParam resource: None means "not set here", look at Relative (the parent)."""

    parent: str = ""
    fill: Paint | None = None
    stroke: Paint | None = None
    line_width: str | None = None
    cap: str | None = None
    join: str | None = None
    miter: str | None = None
    dash_pattern: str | None = None
    dash_offset: str | None = None


@dataclass
class Ctx:
    """What a container passes to its children while walking the content."""

    matrix: g.Matrix
    draw_param: str
    clips: list[Clip]
    depth: int = 0


class OfdDocument:
    """One OFD file: the first document body, its resources and pages."""

    def __init__(self, data: bytes) -> None:
        self.pkg = Package(data)
        self.doc_info: dict[str, str] = {}
        self.signatures_path: str | None = None
        self._load_entry()
        self._load_document()

    # -- structure --------------------------------------------------------------------------
    def _load_entry(self) -> None:
        entry = self.pkg.find("OFD.xml")
        if entry is None:
            raise FormatError("不是有效的 OFD 文件：缺少 OFD.xml", "no OFD.xml")
        root = self.pkg.xml(entry)
        body = child(root, "DocBody")
        if body is None:
            raise FormatError("OFD 文件缺少文档入口", "no DocBody")
        info = child(body, "DocInfo")
        if info is not None:
            for el in info:
                if isinstance(el.tag, str) and len(el) == 0 and (el.text or "").strip():
                    self.doc_info[el.tag] = el.text.strip()
        root_ref = path_text(body, "DocRoot")
        self.doc_path = self.pkg.resolve(root_ref, "") if root_ref else None
        if self.doc_path is None:
            self.doc_path = self.pkg.find("Doc_0/Document.xml")
        if self.doc_path is None:
            raise FormatError("OFD 文件缺少文档根节点", f"DocRoot {root_ref!r} not found")
        sig_ref = path_text(body, "Signatures")
        if sig_ref:
            self.signatures_path = self.pkg.resolve(sig_ref, "", posixpath.dirname(self.doc_path))

    def _load_document(self) -> None:
        self.doc_dir = posixpath.dirname(self.doc_path)
        root = self.pkg.xml(self.doc_path)
        common = child(root, "CommonData")
        self.box = _page_box(child(common, "PageArea")) or A4
        self.fonts: dict[str, FontRes] = {}
        self.media: dict[str, str] = {}
        self.palette = Palette(default_id=attr(common, "DefaultCS"))
        self.draw_params: dict[str, DrawParam] = {}
        self.composites: dict[str, Element] = {}
        for tag in ("PublicRes", "DocumentRes"):
            for el in children(common, tag):
                self._load_res((el.text or "").strip(), self.doc_dir)
        self.templates: dict[str, tuple[str | None, str]] = {}
        for el in children(common, "TemplatePage"):
            ref = self.pkg.resolve(attr(el, "BaseLoc"), self.doc_dir)
            self.templates[attr(el, "ID")] = (ref, attr(el, "ZOrder", "Background"))
        pages = children(child(root, "Pages"), "Page")
        if len(pages) > MAX_PAGES:
            raise FormatError("OFD 文件页数过多", f"{len(pages)} pages > {MAX_PAGES}")
        self.pages = [PageRef(attr(p, "ID"), self.pkg.resolve(attr(p, "BaseLoc"), self.doc_dir))
                      for p in pages]
        self.annots_path = self._resolve_opt(path_text(root, "Annotations"))
        self.attachments_path = self._resolve_opt(path_text(root, "Attachments"))

    def _resolve_opt(self, ref: str) -> str | None:
        return self.pkg.resolve(ref, self.doc_dir) if ref else None

    # -- resources ----------------------------------------------------------------------------
    def _load_res(self, ref: str, base_dir: str) -> None:
        path = self.pkg.resolve(ref, base_dir) if ref else None
        if path is None:
            return  # optional part: a missing resource file only loses what it described
        res = self.pkg.xml(path)
        res_dir = posixpath.dirname(path)
        files_dir = posixpath.join(res_dir, attr(res, "BaseLoc"))
        dirs = (res_dir, self.doc_dir, posixpath.join(self.doc_dir, "Res"))
        for font in children(child(res, "Fonts"), "Font"):
            file_ref = path_text(font, "FontFile")
            self.fonts[attr(font, "ID")] = FontRes(
                attr(font, "FontName"), attr(font, "FamilyName"),
                self.pkg.resolve(file_ref, files_dir, *dirs) if file_ref else None,
                attr(font, "Bold") == "true", attr(font, "Italic") == "true")
        for mm in children(child(res, "MultiMedias"), "MultiMedia"):
            found = self.pkg.resolve(path_text(mm, "MediaFile"), files_dir, *dirs)
            if found:
                self.media[attr(mm, "ID")] = found
        for cs in children(child(res, "ColorSpaces"), "ColorSpace"):
            self.palette.add(cs)
        for dp in children(child(res, "DrawParams"), "DrawParam"):
            style = {name: attr(dp, key) or None for name, key in _STYLE.items()}
            self.draw_params[attr(dp, "ID")] = DrawParam(
                attr(dp, "Relative"), self.palette.paint(child(dp, "FillColor")),
                self.palette.paint(child(dp, "StrokeColor")), **style)
        for unit in children(child(res, "CompositeGraphicUnits"), "CompositeGraphicUnit"):
            self.composites[attr(unit, "ID")] = unit

    def _param(self, dp_ids: tuple[str, ...], name: str) -> object:
        """A DrawParam value: the object's DrawParam and its Relative chain, then the layer's."""
        seen: set[str] = set()
        for dp_id in dp_ids:
            while dp_id and dp_id not in seen:
                seen.add(dp_id)
                dp = self.draw_params.get(dp_id)
                if dp is None:
                    break
                val = getattr(dp, name)
                if val is not None:
                    return val
                dp_id = dp.parent
        return None

    # -- pages --------------------------------------------------------------------------------
    def page(self, number: int) -> Page:
        """Page ``number`` (1-based) with template, body and annotations resolved."""
        if not 1 <= number <= len(self.pages):
            raise FormatError("页码超出范围", f"page {number} of {len(self.pages)}")
        ref = self.pages[number - 1]
        if ref.path is None:
            return Page(number, self.box, [])
        root = self.pkg.xml(ref.path)
        box = _page_box(child(root, "Area")) or self.box
        under: list[Item] = []
        over: list[Item] = []
        for tpl in children(root, "Template"):
            tpl_path, zorder = self.templates.get(attr(tpl, "TemplateID"), (None, "Background"))
            if tpl_path is None or tpl_path == ref.path:
                continue
            zorder = attr(tpl, "ZOrder", zorder)
            target = over if zorder.lower() == "foreground" else under
            target.extend(self._content_items(self.pkg.xml(tpl_path)))
        for pres in children(root, "PageRes"):
            self._load_res((pres.text or "").strip(), posixpath.dirname(ref.path))
        items = under + self._content_items(root) + over
        return Page(number, box, items)

    def _content_items(self, page_root: Element) -> list[Item]:
        layers = children(child(page_root, "Content"), "Layer")
        layers.sort(key=lambda el: _LAYER_ORDER.get(attr(el, "Type", "Body").lower(), 1))
        out: list[Item] = []
        for layer in layers:
            self.walk(layer, Ctx(g.IDENTITY, attr(layer, "DrawParam"), []), out)
        return out

    def walk(self, container: Element, ctx: Ctx, out: list[Item]) -> None:
        if ctx.depth > MAX_DEPTH:
            return
        for el in container:
            if not isinstance(el.tag, str):
                continue
            tag = el.tag.lower()
            if tag == "textobject":
                out.append(self._text(el, ctx))
            elif tag == "pathobject":
                item = self._path(el, ctx)
                if item:
                    out.append(item)
            elif tag == "imageobject":
                m = self._object_matrix(el, ctx)
                out.append(ImageItem(attr(el, "ResourceID"), m, _alpha(el),
                                     ctx.clips + self._clips(el, ctx)))
            elif tag == "pageblock":
                self.walk(el, Ctx(ctx.matrix, ctx.draw_param, ctx.clips, ctx.depth + 1), out)
            elif tag == "compositeobject":
                self._composite(el, ctx, out)

    def _composite(self, el: Element, ctx: Ctx, out: list[Item]) -> None:
        unit = self.composites.get(attr(el, "ResourceID"))
        content = child(unit, "Content")
        if content is None:
            return
        m = self._object_matrix(el, ctx)
        self.walk(content, Ctx(m, ctx.draw_param, ctx.clips, ctx.depth + 1), out)

    def _object_matrix(self, el: Element, ctx: Ctx) -> g.Matrix:
        box = g.parse_box(attr(el, "Boundary")) or (0.0, 0.0, 0.0, 0.0)
        to_page = g.compose(g.translate(box[0], box[1]), ctx.matrix)
        return g.compose(g.parse_matrix(attr(el, "CTM")), to_page)

    def _clips(self, el: Element, ctx: Ctx) -> list[Clip]:
        clips_el = child(el, "Clips")
        if clips_el is None:
            return []
        box = g.parse_box(attr(el, "Boundary")) or (0.0, 0.0, 0.0, 0.0)
        base = g.compose(g.translate(box[0], box[1]), ctx.matrix)
        out: list[Clip] = []
        for clip in children(clips_el, "Clip"):
            for area in children(clip, "Area"):
                area_m = g.compose(g.parse_matrix(attr(area, "CTM")), base)
                for path in children(area, "Path"):
                    pbox = g.parse_box(attr(path, "Boundary")) or (0.0, 0.0, 0.0, 0.0)
                    m = g.compose(g.compose(g.parse_matrix(attr(path, "CTM")),
                                            g.translate(pbox[0], pbox[1])), area_m)
                    segs = g.parse_path(path_text(path, "AbbreviatedData"))
                    if segs:
                        out.append(Clip(g.transform_path(segs, m)))
        return out

    def _paints(self, el: Element, dps: tuple[str, ...]) -> tuple[Paint, Paint]:
        """Fill and stroke paints, black by default, with the object's Alpha applied."""
        alpha = _alpha(el)
        out = []
        for tag, name in (("FillColor", "fill"), ("StrokeColor", "stroke")):
            paint = self.palette.paint(child(el, tag)) or self._param(dps, name) or _BLACK
            if alpha < 1:  # paints are shared: a new one rather than a changed one
                paint = Paint(paint.rgb, paint.alpha * alpha, paint.shading)  # type: ignore[union-attr]
            out.append(paint)
        return out[0], out[1]  # type: ignore[return-value]

    def _style(self, el: Element, dps: tuple[str, ...], name: str) -> str:
        return attr(el, _STYLE[name]) or str(self._param(dps, name) or "")

    def _text(self, el: Element, ctx: Ctx) -> TextItem:
        m = self._object_matrix(el, ctx)
        size = _num(attr(el, "Size"), 3.5)
        fill, stroke = self._paints(el, (attr(el, "DrawParam"), ctx.draw_param))
        return TextItem(
            runs=_glyph_runs(el, size), size=size, font_id=attr(el, "Font"), matrix=m,
            fill=attr(el, "Fill", "true").lower() != "false",
            stroke=attr(el, "Stroke", "false").lower() == "true",
            fill_paint=fill, stroke_paint=stroke,
            hscale=_num(attr(el, "HScale"), 1.0) or 1.0, clips=ctx.clips + self._clips(el, ctx))

    def _path(self, el: Element, ctx: Ctx) -> PathItem | None:
        segs = g.parse_path(path_text(el, "AbbreviatedData"))
        if not segs:
            return None
        m = self._object_matrix(el, ctx)
        dps = (attr(el, "DrawParam"), ctx.draw_param)
        fill, stroke = self._paints(el, dps)
        scale = g.scale_of(m)
        width = _num(self._style(el, dps, "line_width"), DEFAULT_LINE_WIDTH)
        dash = _dash(self._style(el, dps, "dash_pattern"), self._style(el, dps, "dash_offset"))
        if dash:
            dash = ([v * scale for v in dash[0]], dash[1] * scale)
        return PathItem(
            path=g.transform_path(segs, m), line_width=width * scale,
            stroke=attr(el, "Stroke", "true").lower() != "false",
            fill=attr(el, "Fill", "false").lower() == "true",
            even_odd=attr(el, "Rule").lower().startswith("even"),
            fill_paint=fill, stroke_paint=stroke, matrix=m,
            dash=dash,
            cap=_CAPS.get(self._style(el, dps, "cap").lower(), 0),
            join=_JOINS.get(self._style(el, dps, "join").lower(), 0),
            miter=_num(self._style(el, dps, "miter"), DEFAULT_MITER_LIMIT),
            clips=ctx.clips + self._clips(el, ctx))

    # -- annotations and attachments ---------------------------------------------------------------
    def annotations(self, number: int) -> list[Annotation]:
        """Visible annotations of a page, each with its appearance as drawable items."""
        if self.annots_path is None:
            return []
        page_id = self.pages[number - 1].id
        root = self.pkg.xml(self.annots_path)
        base = posixpath.dirname(self.annots_path)
        out: list[Annotation] = []
        for pg in children(root, "Page"):
            if attr(pg, "PageID") != page_id:
                continue
            path = self.pkg.resolve(path_text(pg, "FileLoc"), base, self.doc_dir)
            if path:
                out.extend(self._annot_file(path))
        return out

    def annotation_items(self, number: int) -> list[Item]:
        """What the visible annotations of a page draw (stamps, notes), in file order."""
        return [item for annot in self.annotations(number) for item in annot.items]

    def _annot_file(self, path: str) -> list[Annotation]:
        out: list[Annotation] = []
        for annot in children(self.pkg.xml(path), "Annot"):
            if attr(annot, "Visible", "true").lower() == "false":
                continue
            items: list[Item] = []
            for app in children(annot, "Appearance"):
                box = g.parse_box(attr(app, "Boundary")) or (0.0, 0.0, 0.0, 0.0)
                ctx = Ctx(g.translate(box[0], box[1]), "", [], 1)
                self.walk(app, ctx, items)
            out.append(Annotation(attr(annot, "Type"), items))
        return out

    def attachments(self) -> list[tuple[str, str | None]]:
        """(name, part path) of each attachment."""
        if self.attachments_path is None:
            return []
        root = self.pkg.xml(self.attachments_path)
        base = posixpath.dirname(self.attachments_path)
        return [(attr(a, "Name") or attr(a, "ID"),
                 self.pkg.resolve(path_text(a, "FileLoc"), base, self.doc_dir))
                for a in children(root, "Attachment")]

    # -- document information -------------------------------------------------------------------
    def info(self, key: str) -> str:
        low = key.lower()
        return next((v for k, v in self.doc_info.items() if k.lower() == low), "")

    def created(self) -> datetime | None:
        return parse_date(self.info("CreationDate"))


def _glyph_runs(el: Element, size: float) -> list[Glyphs]:
    runs: list[Glyphs] = []
    x = y = 0.0
    for code in children(el, "TextCode"):
        text = code.text or ""
        x = _num(attr(code, "X"), x)
        y = _num(attr(code, "Y"), y)
        if not text:
            continue
        n = len(text)
        dx = g.parse_deltas(attr(code, "DeltaX"), n)[: n - 1]
        dy = g.parse_deltas(attr(code, "DeltaY"), n)[: n - 1]
        if len(dx) < n - 1:
            # Missing advances: nominal widths, or none when the run is vertical (DeltaY only).
            dx += [0.0 if dy else advance(ch, size) for ch in text[len(dx):n - 1]]
        dy += [0.0] * (n - 1 - len(dy))
        xs = list(accumulate(dx, initial=x))
        ys = list(accumulate(dy, initial=y))
        runs.append(Glyphs(text, xs, ys))
        # A following TextCode without X/Y continues after this one.
        x, y = xs[-1] + advance(text[-1], size), ys[-1]
    return runs


def advance(ch: str, size: float) -> float:
    """Nominal advance when the file gives none: full width for CJK, half for Latin."""
    return size if ord(ch) > 0x2E7F else size * 0.5


def _num(text: str, default: float) -> float:
    val = _opt_num(text)
    return default if val is None else val


def _opt_num(text: str) -> float | None:
    nums = g.parse_numbers(text)
    return nums[0] if nums else None


def _dash(pattern: str, offset: str) -> tuple[list[float], float] | None:
    """DashPattern/DashOffset in object units; None for a solid line or a pattern PDF rejects."""
    values = g.parse_numbers(pattern)[:32]
    if not values or any(v < 0 for v in values) or sum(values) <= 0:
        return None
    return values, max(0.0, _num(offset, 0.0))


def _alpha(el: Element) -> float:
    return max(0.0, min(1.0, _num(attr(el, "Alpha"), 255.0) / 255.0))


def _page_box(area: Element | None) -> tuple[float, float, float, float] | None:
    box = g.parse_box(path_text(area, "PhysicalBox"))
    if box is None or box[2] <= 0 or box[3] <= 0 or box[2] > 5000 or box[3] > 5000:
        return None
    return box


def parse_date(text: str) -> datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y%m%d%H%M%S", "%Y%m%d"):
        try:
            return datetime.strptime(text[: len(datetime(2000, 1, 1).strftime(fmt))], fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
