"""Hospital name, logo and theme colour (E3, Q1), kept in the ``appearance`` system setting.

The logo is small (≤ 256 KB) and lives in the setting itself (base64), so it is backed up with
the database and needs no blob-store round trip on every page.
"""
from __future__ import annotations

import base64
import hashlib
import re

from sqlalchemy.orm import Session

from bingan.access.administration import AdminError
from bingan.formats.base import FormatError
from bingan.formats.images import open_upload
from bingan.storage.system_settings import read_setting, write_setting

KEY = "appearance"
MAX_LOGO_BYTES = 256 * 1024
MAX_LOGO_SIDE = 1024
LOGO_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
LOGO_RULE = f"图标须为 PNG、JPEG、GIF 或 WebP 格式，不超过 {MAX_LOGO_SIDE}×{MAX_LOGO_SIDE} 像素"


def stored(session: Session) -> dict:
    return read_setting(session, KEY)


def _save(session: Session, value: dict) -> None:
    write_setting(session, KEY, value)


def update(session: Session, hospital_name: str, theme_color: str) -> dict:
    name = hospital_name.strip()
    if not name or len(name) > 100:
        raise AdminError("医院名称不能为空，且不超过100个字")
    if not COLOUR.fullmatch(theme_color.strip()):
        raise AdminError("主题色格式应为 #RRGGBB，例如 #1f5f8b")
    value = {**stored(session), "hospital_name": name, "theme_color": theme_color.strip().lower()}
    _save(session, value)
    return value


def check_logo(data: bytes) -> str:
    """The logo's media type, or AdminError when it is not a small PNG/JPEG/GIF/WebP image."""
    if not data:
        raise AdminError("请选择图片文件")
    if len(data) > MAX_LOGO_BYTES:
        raise AdminError(f"图标文件不能超过{MAX_LOGO_BYTES // 1024} KB")
    try:
        with open_upload(data, MAX_LOGO_SIDE * MAX_LOGO_SIDE) as image:
            image.verify()
            kind, size = image.format, image.size
    except FormatError as error:
        raise AdminError(f"图片无法识别或不可用：{error.message}（{LOGO_RULE}）") from error
    except (OSError, SyntaxError) as error:
        raise AdminError(f"图片无法识别（{LOGO_RULE}）") from error
    if kind not in LOGO_TYPES:
        raise AdminError("只支持 PNG、JPEG、GIF 或 WebP 格式的图标")
    if max(size) > MAX_LOGO_SIDE:
        raise AdminError(f"图标尺寸不能超过 {MAX_LOGO_SIDE}×{MAX_LOGO_SIDE} 像素")
    return LOGO_TYPES[kind]


def set_logo(session: Session, data: bytes) -> str:
    media_type = check_logo(data)
    digest = hashlib.sha256(data).hexdigest()[:12]
    value = {**stored(session), "logo": base64.b64encode(data).decode(), "logo_type": media_type,
             "logo_url": f"/branding/logo?v={digest}"}
    _save(session, value)
    return value["logo_url"]


def remove_logo(session: Session) -> None:
    value = {k: v for k, v in stored(session).items() if k not in {"logo", "logo_type", "logo_url"}}
    _save(session, value)


def logo(session: Session) -> tuple[bytes, str] | None:
    value = stored(session)
    if not value.get("logo"):
        return None
    return base64.b64decode(value["logo"]), value.get("logo_type", "image/png")
