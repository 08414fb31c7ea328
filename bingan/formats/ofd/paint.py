"""Colours of OFD content (GB/T 33190 §8.3): colour spaces, palettes, alpha and shadings.

Every colour resolves to a flat RGB that can always be drawn. Axial and radial shadings also
keep their geometry so the renderer paints the real gradient; Gouraud shadings and tiling
patterns are drawn with one representative colour (their average) rather than left out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from xml.etree.ElementTree import Element

from bingan.formats.ofd import geometry as g
from bingan.formats.ofd.package import attr, child, children

RGB = tuple[float, float, float]
BLACK: RGB = (0.0, 0.0, 0.0)
GREY: RGB = (0.5, 0.5, 0.5)
MAX_STOPS = 256  # after Repeat/Reflect expansion; a gradient finer than this is invisible
MAX_PATTERN_COLORS = 64
_SHADINGS = ("AxialShd", "RadialShd", "GouraudShd", "LaGouraudShd", "LaGourandShd", "Pattern")


@dataclass(frozen=True)
class ColorSpace:
    kind: str = "RGB"  # RGB | GRAY | CMYK
    bits: int = 8
    palette: tuple[str, ...] = ()  # CV values, parsed on use


@dataclass
class Shading:
    """A gradient in the object's own coordinates (the space of its path data)."""

    kind: str  # axial | radial
    coords: tuple[float, ...]  # x0 y0 x1 y1, or x0 y0 r0 x1 y1 r1
    stops: list[tuple[float, RGB]]  # positions 0..1, ascending
    extend: tuple[bool, bool]  # before the start, after the end


@dataclass(frozen=True)  # shared between items: see Palette._plain
class Paint:
    rgb: RGB = BLACK
    alpha: float = 1.0
    shading: Shading | None = None


@dataclass
class Palette:
    """The colour spaces of a document, to turn CT_Color elements into paints."""

    spaces: dict[str, ColorSpace] = field(default_factory=dict)
    default_id: str = ""  # CommonData DefaultCS
    # Plain colours by their attributes: a page repeats a handful of colours many times.
    _plain: dict[tuple[str | None, ...], Paint | None] = field(default_factory=dict)

    def add(self, el: Element) -> None:
        bits = int(_num(attr(el, "BitsPerComponent"), 8)) or 8
        cvs = tuple((cv.text or "").strip() for cv in children(child(el, "Palette"), "CV"))
        self.spaces[attr(el, "ID")] = ColorSpace(attr(el, "Type", "RGB").upper(), bits, cvs)
        self._plain.clear()  # a page's resources may redefine an ID

    def paint(self, el: Element | None) -> Paint | None:
        """The paint of a CT_Color element; None when it names no usable colour."""
        if el is None:
            return None
        special = next((c for c in el if isinstance(c.tag, str) and c.tag in _SHADINGS), None)
        if special is not None:
            found = self._special(special)
            return Paint(found[0], _alpha(el), found[1]) if found else None
        key = (el.get("Value"), el.get("ColorSpace"), el.get("Index"), el.get("Alpha"))
        if key not in self._plain:
            rgb = self.rgb(el)
            self._plain[key] = Paint(rgb, _alpha(el)) if rgb else None
        return self._plain[key]

    def rgb(self, el: Element) -> RGB | None:
        space = self.spaces.get(attr(el, "ColorSpace") or self.default_id, ColorSpace())
        index = attr(el, "Index")
        if index and space.palette:
            pos = int(_num(index, -1))
            if 0 <= pos < len(space.palette):
                return parse_color(space.palette[pos], space.kind, space.bits)
        return parse_color(attr(el, "Value"), space.kind, space.bits)

    def _special(self, el: Element) -> tuple[RGB, Shading | None] | None:
        tag = el.tag
        if tag == "Pattern":
            return _pattern_color(self, el), None
        stops = self._stops(el)
        if not stops:
            return None
        average = _mean([c for _, c in stops])
        if tag == "AxialShd":
            return average, _axial(el, stops)
        if tag == "RadialShd":
            return average, _radial(el, stops)
        return average, None  # Gouraud: one flat colour

    def _stops(self, el: Element) -> list[tuple[float, RGB]]:
        if el.tag in ("AxialShd", "RadialShd"):
            pairs = [(attr(seg, "Position"), self.rgb_of(child(seg, "Color")))
                     for seg in children(el, "Segment")]
        else:  # Gouraud shadings: the colours of the control points
            pairs = [("", self.rgb_of(child(pt, "Color"))) for pt in children(el, "Point")]
        pairs = [(pos, rgb) for pos, rgb in pairs if rgb is not None]
        return _positions(pairs)  # type: ignore[arg-type]

    def rgb_of(self, el: Element | None) -> RGB | None:
        return self.rgb(el) if el is not None else None


def _positions(pairs: list[tuple[str, RGB]]) -> list[tuple[float, RGB]]:
    """Segment positions, spread evenly when any is missing, clamped and never decreasing."""
    if not pairs:
        return []
    given = [g.parse_numbers(pos) for pos, _ in pairs]
    if len(pairs) == 1 or not all(given):
        spread = [i / max(1, len(pairs) - 1) for i in range(len(pairs))]
    else:
        spread = [nums[0] for nums in given]
    out: list[tuple[float, RGB]] = []
    low = 0.0
    for pos, (_, rgb) in zip(spread, pairs, strict=True):
        low = max(low, min(1.0, max(0.0, pos)))
        out.append((low, rgb))
    return out


def _extend(el: Element) -> tuple[bool, bool]:
    """Extend: 1 continues before the start point, 2 after the end point, 3 both."""
    flags = int(_num(attr(el, "Extend"), 0))
    return bool(flags & 1), bool(flags & 2)


def _axial(el: Element, stops: list[tuple[float, RGB]]) -> Shading | None:
    start, end = _point(attr(el, "StartPoint")), _point(attr(el, "EndPoint"))
    if start is None or end is None:
        return None
    length = math.dist(start, end)
    return Shading("axial", (*start, *end), _mapped(el, stops, length), _extend(el))


def _radial(el: Element, stops: list[tuple[float, RGB]]) -> Shading | None:
    # Eccentricity/Angle (elliptic gradients) are drawn as circles.
    start, end = _point(attr(el, "StartPoint")), _point(attr(el, "EndPoint"))
    r0 = max(0.0, _num(attr(el, "StartRadius"), 0.0))
    r1 = max(0.0, _num(attr(el, "EndRadius"), 0.0))
    if start is None or end is None or r0 == r1 == 0:
        return None
    length = abs(r1 - r0) or math.dist(start, end)
    return Shading("radial", (*start, r0, *end, r1), _mapped(el, stops, length), _extend(el))


def _mapped(el: Element, stops: list[tuple[float, RGB]], length: float) -> list[tuple[float, RGB]]:
    """Stops over 0..1 with MapType Repeat/Reflect: the segments repeat every MapUnit."""
    kind = attr(el, "MapType", "Direct").lower()
    unit = _num(attr(el, "MapUnit"), 0.0)
    if kind not in ("repeat", "reflect") or unit <= 0 or length <= unit:
        return stops
    periods = min(math.ceil(length / unit), MAX_STOPS // max(1, len(stops)))
    scale = unit / length
    out: list[tuple[float, RGB]] = []
    for k in range(periods):
        flip = kind == "reflect" and k % 2 == 1
        cycle = [(1 - p, c) for p, c in reversed(stops)] if flip else stops
        out.extend(((k + p) * scale, c) for p, c in cycle if (k + p) * scale <= 1)
    if out[-1][0] < 1:  # the axis ends inside the last period
        t = min(1.0, length / unit - (periods - 1))
        t = 1 - t if kind == "reflect" and periods % 2 == 0 else t
        out.append((1.0, color_at(stops, t)))
    return out


def color_at(stops: list[tuple[float, RGB]], t: float) -> RGB:
    """The gradient's colour at position t (0..1), linear between stops."""
    if t <= stops[0][0]:
        return stops[0][1]
    for (p0, c0), (p1, c1) in pairwise(stops):
        if t <= p1:
            f = (t - p0) / (p1 - p0) if p1 > p0 else 1.0
            return (c0[0] + (c1[0] - c0[0]) * f, c0[1] + (c1[1] - c0[1]) * f,
                    c0[2] + (c1[2] - c0[2]) * f)
    return stops[-1][1]


def _pattern_color(palette: Palette, el: Element) -> RGB:
    """The average of the colours a tiling pattern's cell draws with; grey when it names none."""
    colors = []
    for sub in el.iter():
        if isinstance(sub.tag, str) and sub.tag in ("FillColor", "StrokeColor"):
            rgb = palette.rgb(sub)
            if rgb is not None:
                colors.append(rgb)
            if len(colors) >= MAX_PATTERN_COLORS:
                break
    return _mean(colors) if colors else GREY


def _mean(colors: list[RGB]) -> RGB:
    n = len(colors)
    return (sum(c[0] for c in colors) / n, sum(c[1] for c in colors) / n,
            sum(c[2] for c in colors) / n)


def _point(text: str) -> tuple[float, float] | None:
    nums = g.parse_numbers(text)
    return (nums[0], nums[1]) if len(nums) >= 2 else None


def _num(text: str, default: float) -> float:
    nums = g.parse_numbers(text)
    return nums[0] if nums else default


def _alpha(el: Element) -> float:
    return max(0.0, min(1.0, _num(attr(el, "Alpha"), 255.0) / 255.0))


def parse_color(value: str, kind: str = "", bits: int = 8) -> RGB | None:
    """A colour value in its colour space (components 0..2^bits-1, or #hex each)."""
    toks = value.split()
    if not toks:
        return None
    try:
        nums = [int(t[1:], 16) if t.startswith("#") else float(t) for t in toks]
    except ValueError:
        return None
    top = float((1 << min(bits, 16)) - 1) or 255.0
    vals = [max(0.0, min(1.0, n / top)) for n in nums if math.isfinite(n)]
    if not vals:
        return None
    if kind == "GRAY" or len(vals) == 1:
        return (vals[0], vals[0], vals[0])
    if kind == "CMYK" or len(vals) == 4:
        c, m, y, k = (vals + [0.0] * 4)[:4]
        return ((1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k))
    if len(vals) >= 3:
        return (vals[0], vals[1], vals[2])
    return None
