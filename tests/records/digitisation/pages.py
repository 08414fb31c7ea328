"""Generated paper pages for the digitisation tests: a sharp typed page and its faults."""
from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LINES = ["Admission record  ruyuan jilu  2026-11-20", "Chief complaint: chest pain for 3 days",
         "History: hypertension 10 years, no diabetes", "Examination: BP 150/95 mmHg, HR 88 /min",
         "Diagnosis: unstable angina pectoris", "Plan: coronary angiography, aspirin 100 mg qd"]


def text_page(width: int = 1240, height: int = 1754) -> Image.Image:
    """A typed A4 page at 150 dpi with margins: what a good capture looks like."""
    page = Image.new("L", (width, height), 245)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(FONT, 28)
    y = 150
    while y < height - 200:
        for line in LINES:
            draw.text((130, y), line, fill=20, font=font)
            y += 48
            if y >= height - 200:
                break
    return page.convert("RGB")


def blurred(page: Image.Image) -> Image.Image:
    return page.filter(ImageFilter.GaussianBlur(3))


def darkened(page: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(page).enhance(0.3)


def rotated(page: Image.Image, degrees: float = 5) -> Image.Image:
    return page.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=(245, 245, 245))


def cropped(page: Image.Image) -> Image.Image:
    """The right half cut away: text lines run out of the picture."""
    return page.crop((0, 0, page.width // 2, page.height))


def jpeg(page: Image.Image) -> bytes:
    out = io.BytesIO()
    page.save(out, "JPEG", quality=90)
    return out.getvalue()


def png(page: Image.Image) -> bytes:
    out = io.BytesIO()
    page.save(out, "PNG")
    return out.getvalue()
