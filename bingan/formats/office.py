"""Office documents (doc/docx/xls/xlsx/ppt/pptx/rtf/odt): Apache Tika for text when
BINGAN_TIKA_URL is set, LibreOffice headless (convert to PDF) for pages and rendering."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from bingan.formats.base import FormatError

CONVERT_TIMEOUT = 180.0
TIKA_TIMEOUT = 120.0
UNSUPPORTED = "不支持的文件格式：Office 文档需要安装 LibreOffice 或配置 Tika（BINGAN_TIKA_URL）"


def tika_url() -> str:
    return os.environ.get("BINGAN_TIKA_URL", "").strip().rstrip("/")


def libreoffice_binary() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def can_render() -> bool:
    return libreoffice_binary() is not None


def tika_text(data: bytes, url: str | None = None) -> str:
    """Plain text of a document from Tika's ``PUT /tika``."""
    import httpx

    base = url or tika_url()
    if not base:
        raise FormatError(UNSUPPORTED, "BINGAN_TIKA_URL not set")
    try:
        response = httpx.put(f"{base}/tika", content=data, timeout=TIKA_TIMEOUT,
                             headers={"Accept": "text/plain; charset=UTF-8"})
    except httpx.HTTPError as exc:
        raise FormatError("文字提取服务（Tika）无法连接", repr(exc)) from exc
    if response.status_code == 422 or response.status_code == 415:
        raise FormatError("Office 文档已损坏或格式不受支持", f"tika {response.status_code}")
    if response.status_code >= 400:
        raise FormatError("文字提取服务（Tika）出错", f"tika {response.status_code}: {response.text[:300]}")
    response.encoding = response.encoding or "utf-8"
    return response.text


def to_pdf(data: bytes, suffix: str = ".docx") -> bytes:
    """Convert with ``soffice --headless --convert-to pdf`` in a private temp directory."""
    binary = libreoffice_binary()
    if binary is None:
        raise FormatError(UNSUPPORTED, "soffice not on PATH")
    with tempfile.TemporaryDirectory(prefix="bingan-office-") as work:
        folder = Path(work)
        source = folder / f"document{suffix}"
        source.write_bytes(data)
        _convert(binary, source, folder)
        result = folder / "document.pdf"
        if not result.exists() or result.stat().st_size == 0:
            raise FormatError("Office 文档已损坏，无法转换", "LibreOffice produced no PDF")
        return result.read_bytes()


def _convert(binary: str, source: Path, folder: Path) -> None:
    # A private profile per call: concurrent conversions otherwise fight over one lock file.
    profile = (folder / "profile").as_uri()
    arguments = [binary, f"-env:UserInstallation={profile}", "--headless", "--norestore",
                 "--nolockcheck", "--convert-to", "pdf", "--outdir", str(folder), str(source)]
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)  # own group: a timeout kills its helpers too
    try:
        _, stderr = process.communicate(timeout=CONVERT_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise FormatError("Office 文档转换超时", f"soffice > {CONVERT_TIMEOUT:.0f}s") from exc
    if process.returncode != 0:
        raise FormatError("Office 文档已损坏，无法转换", stderr.decode("utf-8", "replace")[-500:])


SUFFIXES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/msword": ".doc",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/rtf": ".rtf",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.oasis.opendocument.presentation": ".odp",
}
