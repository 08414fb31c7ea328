"""Affine matrices and OFD path data (AbbreviatedData), in OFD units (millimetres)."""
from __future__ import annotations

import contextlib
import math

Matrix = tuple[float, float, float, float, float, float]  # a b c d e f, as in OFD CTM and PDF cm
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
MM_TO_PT = 72 / 25.4

# A path is a list of ("M", x, y) / ("L", x, y) / ("C", x1, y1, x2, y2, x3, y3) / ("Z",).
Segment = tuple
_ARGS = {"S": 2, "M": 2, "L": 2, "Q": 4, "B": 6, "A": 7, "C": 0}


def compose(first: Matrix, then: Matrix) -> Matrix:
    """The matrix that applies ``first`` and then ``then``."""
    a, b, c, d, e, f = first
    A, B, C, D, E, F = then
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D,
            e * A + f * C + E, e * B + f * D + F)


def translate(x: float, y: float) -> Matrix:
    return (1.0, 0.0, 0.0, 1.0, x, y)


def apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    return (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])


def scale_of(m: Matrix) -> float:
    """Uniform scale factor of a matrix, used for font sizes and line widths."""
    return math.sqrt(abs(m[0] * m[3] - m[1] * m[2])) or 1.0


def parse_numbers(text: str | None) -> list[float]:
    out: list[float] = []
    for tok in (text or "").replace(",", " ").split():
        try:
            val = float(tok)
        except ValueError:
            continue
        if math.isfinite(val):
            out.append(val)
    return out


def parse_matrix(text: str | None) -> Matrix:
    nums = parse_numbers(text)
    return tuple(nums) if len(nums) == 6 else IDENTITY  # type: ignore[return-value]


def parse_box(text: str | None) -> tuple[float, float, float, float] | None:
    nums = parse_numbers(text)
    return (nums[0], nums[1], nums[2], nums[3]) if len(nums) == 4 else None


def parse_deltas(text: str | None, limit: int = 100_000) -> list[float]:
    """DeltaX/DeltaY: numbers, where ``g N v`` repeats v N times; at most ``limit`` values."""
    toks = (text or "").split()[:limit * 3]
    if "g" not in toks:
        try:  # the common case, and the hot loop of text extraction
            vals = [float(t) for t in toks]
            if all(map(math.isfinite, vals)):
                return vals
        except ValueError:
            pass
    out: list[float] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok == "g" and i + 2 < len(toks):
            try:
                count, val = int(float(toks[i + 1])), float(toks[i + 2])
            except ValueError:
                i += 1
                continue
            out.extend([val] * max(0, min(count, limit - len(out))))
            i += 3
            continue
        with contextlib.suppress(ValueError):
            out.append(float(tok))
        i += 1
        if len(out) >= limit:
            break
    return out


def parse_path(data: str | None) -> list[Segment]:
    """AbbreviatedData into absolute segments; unknown or truncated commands are skipped."""
    toks = (data or "").split()
    segs: list[Segment] = []
    cur = (0.0, 0.0)
    start = (0.0, 0.0)
    i = 0
    while i < len(toks):
        cmd = toks[i]
        n = _ARGS.get(cmd)
        if n is None:
            i += 1
            continue
        try:
            args = [float(t) for t in toks[i + 1:i + 1 + n]]
        except ValueError:
            i += 1
            continue
        i += 1 + n
        if len(args) < n:
            break
        cur, start = _segment(cmd, args, cur, start, segs)
    return segs


def _segment(cmd: str, a: list[float], cur: tuple[float, float], start: tuple[float, float],
             segs: list[Segment]) -> tuple[tuple[float, float], tuple[float, float]]:
    if cmd in ("S", "M"):
        segs.append(("M", a[0], a[1]))
        return (a[0], a[1]), (a[0], a[1])
    if cmd == "L":
        segs.append(("L", a[0], a[1]))
        return (a[0], a[1]), start
    if cmd == "B":
        segs.append(("C", *a))
        return (a[4], a[5]), start
    if cmd == "Q":
        x0, y0 = cur
        # A quadratic is the cubic with control points 2/3 of the way to the quadratic one.
        c1 = (x0 + 2 / 3 * (a[0] - x0), y0 + 2 / 3 * (a[1] - y0))
        c2 = (a[2] + 2 / 3 * (a[0] - a[2]), a[3] + 2 / 3 * (a[1] - a[3]))
        segs.append(("C", *c1, *c2, a[2], a[3]))
        return (a[2], a[3]), start
    if cmd == "A":
        segs.extend(_arc(cur, *a))
        return (a[5], a[6]), start
    segs.append(("Z",))  # C: close
    return start, start


def _arc(cur: tuple[float, float], rx: float, ry: float, angle: float, large: float,
         sweep: float, x: float, y: float) -> list[Segment]:
    """Endpoint arc (as in SVG) into cubic Béziers."""
    x1, y1 = cur
    if rx == 0 or ry == 0 or (x1, y1) == (x, y):
        return [("L", x, y)]
    rx, ry = abs(rx), abs(ry)
    phi = math.radians(angle)
    cos_p, sin_p = math.cos(phi), math.sin(phi)
    dx, dy = (x1 - x) / 2, (y1 - y) / 2
    xp, yp = cos_p * dx + sin_p * dy, -sin_p * dx + cos_p * dy
    lam = (xp / rx) ** 2 + (yp / ry) ** 2
    if lam > 1:
        rx, ry = rx * math.sqrt(lam), ry * math.sqrt(lam)
    num = rx * rx * ry * ry - rx * rx * yp * yp - ry * ry * xp * xp
    den = rx * rx * yp * yp + ry * ry * xp * xp
    coef = math.sqrt(max(0.0, num / den)) if den else 0.0
    if bool(large) == bool(sweep):
        coef = -coef
    cxp, cyp = coef * rx * yp / ry, -coef * ry * xp / rx
    cx = cos_p * cxp - sin_p * cyp + (x1 + x) / 2
    cy = sin_p * cxp + cos_p * cyp + (y1 + y) / 2
    t1 = math.atan2((yp - cyp) / ry, (xp - cxp) / rx)
    t2 = math.atan2((-yp - cyp) / ry, (-xp - cxp) / rx)
    dt = t2 - t1
    if sweep and dt < 0:
        dt += 2 * math.pi
    elif not sweep and dt > 0:
        dt -= 2 * math.pi
    parts = max(1, math.ceil(abs(dt) / (math.pi / 2)))
    step = dt / parts
    k = 4 / 3 * math.tan(step / 4)
    out: list[Segment] = []

    def point(t: float) -> tuple[float, float]:
        ex, ey = rx * math.cos(t), ry * math.sin(t)
        return cos_p * ex - sin_p * ey + cx, sin_p * ex + cos_p * ey + cy

    def deriv(t: float) -> tuple[float, float]:
        ex, ey = -rx * math.sin(t), ry * math.cos(t)
        return cos_p * ex - sin_p * ey, sin_p * ex + cos_p * ey

    t = t1
    for _ in range(parts):
        p0, p3 = point(t), point(t + step)
        d0, d3 = deriv(t), deriv(t + step)
        out.append(("C", p0[0] + k * d0[0], p0[1] + k * d0[1],
                    p3[0] - k * d3[0], p3[1] - k * d3[1], p3[0], p3[1]))
        t += step
    return out


def transform_path(segs: list[Segment], m: Matrix) -> list[Segment]:
    out: list[Segment] = []
    for seg in segs:
        if seg[0] == "Z":
            out.append(seg)
            continue
        pts = seg[1:]
        flat: list[float] = []
        for j in range(0, len(pts), 2):
            flat.extend(apply(m, pts[j], pts[j + 1]))
        out.append((seg[0], *flat))
    return out
