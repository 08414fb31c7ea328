"""The copy job's output (J7, J10): the chosen pages of every record of a request rendered into one
A4 PDF, each page with the audience's watermark and the certifying mark (证明印记, art. 22:
"本复印件与原件核对无误", the date and the hospital's seal — the uploaded image, else a drawn one),
then the printed-copies rows.

Pages come from the page renderer's cache (records/pages.py); each stamped page is JPEG-encoded
at once and embedded as it is (reportlab passes JPEG through), so a 300-page job holds one page
image at a time.
"""
from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit import Actor
from bingan.config import get_settings
from bingan.errors import Refusal
from bingan.formats import watermark
from bingan.records import jobs
from bingan.records.pages import PageRenderer
from bingan.records.release import seal as seal_module
from bingan.records.release import service
from bingan.storage.models import Document, User
from bingan.storage.models.recall import SourceNotice
from bingan.storage.models.release import CopyRequest
from bingan.storage.system_settings import read_setting

FONT = watermark.FONT_PATH
CERTIFY = "本复印件与原件核对无误"
RED = (200, 30, 30)
JPEG_QUALITY = 82
Progress = Callable[[int, int, str], None]


def hospital_name(session: Session) -> str:
    return read_setting(session, "appearance").get("hospital_name") or get_settings().hospital_name


@functools.lru_cache(maxsize=4)
def drawn_seal(hospital: str, size: int = 220) -> Image.Image:
    """The hospital's round seal drawn when none is configured: red ring, the name along the top
    arc, a star, and 病案复印专用章 — an RGBA image to paste on pages."""
    seal = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(seal)
    ring = max(4, size // 40)
    draw.ellipse((ring, ring, size - ring, size - ring), outline=(*RED, 230), width=ring)
    _star(draw, size / 2, size / 2, size * 0.15)
    font = ImageFont.truetype(FONT, max(12, size // 9))
    radius, span = size / 2 - ring * 2 - size // 14, math.radians(250)
    for index, char in enumerate(hospital[:16]):
        angle = -math.pi / 2 - span / 2 + span * (index + 0.5) / max(len(hospital[:16]), 1)
        glyph = Image.new("RGBA", (size // 7, size // 7), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((glyph.width / 2, glyph.height / 2), char, font=font, fill=(*RED, 230),
                                   anchor="mm")
        glyph = glyph.rotate(-math.degrees(angle) - 90, resample=Image.BICUBIC)
        x, y = size / 2 + radius * math.cos(angle), size / 2 + radius * math.sin(angle)
        seal.alpha_composite(glyph, (int(x - glyph.width / 2), int(y - glyph.height / 2)))
    small = ImageFont.truetype(FONT, max(10, size // 14))
    draw.text((size / 2, size * 0.74), "病案复印专用章", font=small, fill=(*RED, 230), anchor="mm")
    return seal


def seal_picture(session: Session, hospital: str, size: int = 220) -> Image.Image:
    """The seal as an RGBA picture for other outputs (the OFD seal's appearance): the uploaded
    image, else the drawn one."""
    uploaded = seal_module.seal_bytes(session)
    return seal_module.stamp_at(uploaded[0], size) if uploaded else drawn_seal(hospital, size)


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    points = []
    for index in range(10):
        radius = r if index % 2 == 0 else r * 0.4
        angle = -math.pi / 2 + index * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=(*RED, 230))


def certify(page: Image.Image, hospital: str, day: str, footer: str, lines: tuple[str, ...],
            seal_image: bytes | None = None) -> Image.Image:
    """The watermark for the audience and the certifying mark at the lower right: the uploaded
    seal image (``seal_image``, records/release/seal.py) or, without one, the drawn seal."""
    marked = watermark.apply_visible(page.convert("RGB"), lines)
    width, height = marked.size
    size = max(120, width // 5)
    seal = seal_module.stamp_at(seal_image, size) if seal_image else drawn_seal(hospital, size)
    font = ImageFont.truetype(FONT, max(12, width // 55))
    draw = ImageDraw.Draw(marked)
    right, bottom = width - width // 30, height - height // 40
    draw.text((right, bottom), footer, font=font, fill=(80, 80, 80), anchor="rd")
    draw.text((right, bottom - font.size * 1.6), f"{CERTIFY}  {day}", font=font, fill=RED, anchor="rd")
    text_w = draw.textlength(f"{CERTIFY}  {day}", font=font)
    marked.paste(seal, (int(right - text_w / 2 - seal.width / 2), int(bottom - font.size * 2.2 - seal.height * 0.7)),
                 seal)
    return marked


def build_copy_pdf(renderer: PageRenderer, request: CopyRequest, hospital: str, when: datetime,
                   progress: Progress, seal_image: bytes | None = None) -> bytes:
    """One PDF of every chosen page, in the request's order."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    total = sum(len(item["pages"]) for item in request.items)
    day = f"{clock.local(when):%Y年%m月%d日}"
    lines = (f"{hospital} 病案复印件{'（阶段复印）' if request.stage else ''}", request.watermark)
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    pdf.setTitle(f"病案复印件 {request.id}")
    done = 0
    for item in request.items:
        for page in item["pages"]:
            base = renderer.base(item["sha256"], item["media_type"], page)
            footer = f"复印申请 {request.id} · {item['title']} 第{page}页 · 共{total}页之第{done + 1}页"
            stamped = certify(base, hospital, day, footer, lines, seal_image)
            place_on_a4(pdf, ImageReader(io.BytesIO(jpeg(stamped))), stamped.size, A4)
            done += 1
            progress(done, total, f"正在生成第 {done}/{total} 页")
    pdf.save()
    return out.getvalue()


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def place_on_a4(pdf, image, size: tuple[int, int], a4: tuple[float, float]) -> None:
    """The page image fitted to A4 (landscape pages turn the sheet)."""
    width, height = size
    sheet = a4 if height >= width else (a4[1], a4[0])
    pdf.setPageSize(sheet)
    scale = min(sheet[0] / width, sheet[1] / height)
    w, h = width * scale, height * scale
    pdf.drawImage(image, (sheet[0] - w) / 2, (sheet[1] - h) / 2, w, h)
    pdf.showPage()


def run_copy_job(ctx: jobs.JobContext) -> None:
    """The background job: the PDF, then (after the last checkpoint) the printed-copies rows, the
    request's status and a notice to each source system that the record was printed (J8)."""
    session = ctx.session
    request = service.get_request(session, int(ctx.params["request_id"]))
    if request.status not in ("registered", "paid"):
        raise Refusal(f"该申请{service.STATUS_NAMES[request.status]}，不再生成复印件")
    if any(record.sealed for record in service.records_of(session, request)):
        raise Refusal("所选病案已封存，封存的病案一律不予复印")
    renderer = PageRenderer(get_settings(), ctx.blobs)
    uploaded = seal_module.seal_bytes(session)
    data = build_copy_pdf(renderer, request, hospital_name(session), clock.now(), ctx.progress,
                          uploaded[0] if uploaded else None)
    ctx.store_result(data, f"病案复印件-{request.id}.pdf", "application/pdf")
    owner = session.get(User, ctx.job.owner_id) if ctx.job.owner_id else None
    service.register_prints(session, Actor.of(owner), request)
    _notify_sources(session, request)


def _notify_sources(session: Session, request: CopyRequest) -> None:
    """The EMR warns before a printed record is edited: each source system of a printed document
    is told (the same feed the recall uses; read by the integration API or a webhook adapter)."""
    for record_id in request.record_ids:
        document_ids = [item["document_id"] for item in request.items if item["record_id"] == record_id]
        sources = set(session.scalars(sa.select(Document.source_system).where(
            Document.id.in_(document_ids), Document.source_system != "")))
        for source in sorted(sources):
            session.add(SourceNotice(source_name=source, record_id=record_id, event="printed",
                                     payload={"printed": True, "copy_request": request.id,
                                              "printed_at": clock.iso(request.printed_at)}))


COPY_JOB = jobs.JobKind(service.COPY_JOB, "生成复印件", run_copy_job, permission="copy.serve")
