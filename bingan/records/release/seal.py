"""The hospital's seal image (医院印章图片) in the certifying mark of every copied page (art. 22).

The record room uploads it on the copy-rules page (copy.manage). It is small (≤ 512 KB) and kept
in its own system setting (base64, like the logo), so it is backed up with the database, costs no
blob-store round trip per job, and reading the copy rules does not load it. Without one, output.py
draws a round seal with the hospital's name (the fallback).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import io

from PIL import Image, ImageChops
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.errors import Refusal
from bingan.formats.base import FormatError
from bingan.formats.images import open_upload
from bingan.storage.models import utcnow
from bingan.storage.system_settings import read_setting, write_setting

SETTING = "copy_seal"
MAX_SEAL_BYTES = 512 * 1024
MAX_SEAL_SIDE = 2000
MIN_SEAL_SIDE = 60  # smaller would print as a blot
SEAL_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}
RULE = f"印章图片须为 PNG 或 JPEG，不超过 {MAX_SEAL_BYTES // 1024} KB，边长 {MIN_SEAL_SIDE}–{MAX_SEAL_SIDE} 像素"
INK = 220  # like stamped ink, the text under the seal still shows through
WHITE = 235  # a scanned seal's paper: pixels at least this light (luminance) become transparent


def check_seal(data: bytes) -> tuple[str, tuple[int, int]]:
    """The media type and size of a real PNG or JPEG within the limits, else a Refusal."""
    if not data:
        raise Refusal("请选择印章图片文件")
    if len(data) > MAX_SEAL_BYTES:
        raise Refusal(f"印章图片不能超过 {MAX_SEAL_BYTES // 1024} KB")
    try:
        with open_upload(data, MAX_SEAL_SIDE * MAX_SEAL_SIDE) as image:
            kind, size = image.format, image.size
            image.load()  # decoding the whole image: a truncated or forged file fails here
    except FormatError as error:
        raise Refusal(f"印章图片无法识别：{error.message}（{RULE}）") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise Refusal(f"印章图片已损坏，无法识别（{RULE}）") from error
    if kind not in SEAL_TYPES:
        raise Refusal(f"只支持 PNG 或 JPEG 格式的印章图片（{RULE}）")
    if max(size) > MAX_SEAL_SIDE or min(size) < MIN_SEAL_SIDE:
        raise Refusal(f"印章图片尺寸应在 {MIN_SEAL_SIDE}–{MAX_SEAL_SIDE} 像素之间（{RULE}）")
    return SEAL_TYPES[kind], size


def set_seal(session: Session, actor: Actor, data: bytes) -> dict:
    media_type, (width, height) = check_seal(data)
    digest = hashlib.sha256(data).hexdigest()
    value = {"image": base64.b64encode(data).decode(), "media_type": media_type, "sha256": digest,
             "width": width, "height": height, "size": len(data), "uploaded_at": utcnow().isoformat(),
             "uploaded_by": actor.username}
    write_setting(session, SETTING, value)
    record_event(session, actor, "copy.seal_set", object_type="copy_rules",
                 detail={"格式": media_type, "尺寸": f"{width}×{height}", "SHA-256": digest})
    return seal_info(session) or {}


def remove_seal(session: Session, actor: Actor) -> None:
    if not read_setting(session, SETTING).get("image"):
        raise Refusal("尚未上传印章图片")
    write_setting(session, SETTING, {})
    record_event(session, actor, "copy.seal_remove", object_type="copy_rules")


def seal_info(session: Session) -> dict | None:
    """What the admin page shows (no image bytes); None when no seal was uploaded."""
    value = read_setting(session, SETTING)
    if not value.get("image"):
        return None
    return {key: value[key] for key in ("media_type", "sha256", "width", "height", "size", "uploaded_at",
                                        "uploaded_by") if key in value}


def seal_bytes(session: Session) -> tuple[bytes, str] | None:
    value = read_setting(session, SETTING)
    if not value.get("image"):
        return None
    return base64.b64decode(value["image"]), value.get("media_type", "image/png")


@functools.lru_cache(maxsize=2)
def stamp(data: bytes) -> Image.Image:
    """The uploaded seal as an RGBA stamp: its own transparency kept, paper white made transparent
    (a JPEG scan has no alpha, and an opaque white square would hide the page under the seal), the
    ink slightly translucent."""
    image = Image.open(io.BytesIO(data)).convert("RGBA")
    paper = image.convert("L").point(lambda value: 0 if value >= WHITE else INK)
    image.putalpha(ImageChops.multiply(image.getchannel("A"), paper))
    return image


@functools.lru_cache(maxsize=8)
def stamp_at(data: bytes, size: int) -> Image.Image:
    """The stamp fitted into a ``size`` square (its aspect kept), for one page width."""
    image = stamp(data).copy()
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return image
