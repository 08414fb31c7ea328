"""Safe access to the OFD zip container and its XML parts.

An OFD arrives from outside the hospital (tax e-invoices, other hospitals' exports), so the
container is treated as hostile: limits on entries and sizes are checked before anything is
inflated, and every XML part goes through defusedxml.
"""
from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

from bingan.formats.base import FormatError

MAX_ENTRIES = 10_000
MAX_TOTAL_BYTES = 512 * 1024 * 1024
MAX_ENTRY_BYTES = 256 * 1024 * 1024
# Real OFD parts compress at most ~30x (XML); a bomb needs ratios in the hundreds or more.
MAX_RATIO = 200
RATIO_CHECK_FROM = 1024 * 1024

_EOCD_SIG = b"PK\x05\x06"
_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>")
_DECL_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9_.-]+)["']""")
_PREFIX = re.compile(r"</?([A-Za-z_][\w.-]*):[A-Za-z_]")


def _bad(message: str, detail: str) -> FormatError:
    return FormatError(message, detail)


def _declared_entries(data: bytes) -> int | None:
    """Entry count from the end-of-central-directory record, read before zipfile walks it."""
    pos = data.rfind(_EOCD_SIG, max(0, len(data) - 65_557))
    if pos < 0 or pos + 22 > len(data):
        return None
    return struct.unpack_from("<H", data, pos + 10)[0]


def _check_name(name: str) -> None:
    clean = name.replace("\\", "/")
    parts = clean.split("/")
    if ".." in parts or re.match(r"^[A-Za-z]:", clean):
        raise _bad("OFD 文件包含非法路径", f"path traversal entry {name!r}")


def _check_limits(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_ENTRIES:
        raise _bad("OFD 文件条目过多", f"{len(infos)} entries > {MAX_ENTRIES}")
    total = 0
    for info in infos:
        _check_name(info.filename)
        if info.file_size > MAX_ENTRY_BYTES:
            raise _bad("OFD 文件中的单个部件过大", f"{info.filename}: {info.file_size} bytes")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_CHECK_FROM and ratio > MAX_RATIO:
            raise _bad("OFD 文件疑似压缩炸弹", f"{info.filename}: ratio {ratio:.0f}")
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise _bad("OFD 文件解压后过大", f"{total} bytes > {MAX_TOTAL_BYTES}")


def normalize(path: str) -> str:
    """Zip-internal path without leading slash, with forward slashes and no dot segments."""
    clean = posixpath.normpath("/" + path.replace("\\", "/").strip())
    return clean.lstrip("/")


class Package:
    """The OFD zip, with case-insensitive lookup and safe XML loading."""

    def __init__(self, data: bytes) -> None:
        if not data.startswith(b"PK"):
            raise _bad("不是有效的 OFD 文件", "no zip signature")
        declared = _declared_entries(data)
        if declared is not None and declared > MAX_ENTRIES:
            raise _bad("OFD 文件条目过多", f"{declared} entries declared")
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            raise _bad("OFD 文件已损坏，无法解压", repr(exc)) from exc
        _check_limits(infos)
        self._names = {normalize(i.filename).lower(): i for i in infos if not i.is_dir()}

    def find(self, path: str) -> str | None:
        info = self._names.get(normalize(path).lower())
        return info.filename if info else None

    def resolve(self, ref: str, base_dir: str, *fallback_dirs: str) -> str | None:
        """Find the part a reference points to.

        Absolute references start at the package root; relative ones at the referencing
        file's folder. Producers get this wrong in both directions, so other folders are
        tried after the standard one.
        """
        ref = ref.strip()
        if not ref:
            return None
        if ref.startswith(("/", "\\")):
            candidates = [ref]
        else:
            candidates = [posixpath.join(base_dir, ref), *(posixpath.join(d, ref) for d in fallback_dirs), ref]
        for cand in candidates:
            found = self.find(cand)
            if found:
                return found
        return None

    def read(self, name: str) -> bytes:
        info = self._names.get(normalize(name).lower())
        if info is None:
            raise _bad("OFD 文件缺少必需的部件", f"missing part {name}")
        try:
            return self._zip.read(info)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
            raise _bad("OFD 文件已损坏，无法解压", f"{name}: {exc!r}") from exc
        except Exception as exc:  # zlib.error and friends: corrupt deflate streams
            raise _bad("OFD 文件已损坏，无法解压", f"{name}: {exc!r}") from exc

    def xml(self, name: str) -> Element:
        return parse_xml(self.read(name), name)


def _decode(raw: bytes) -> str:
    """Decode XML bytes: BOM, then UTF-8, then the declared or the common Chinese encodings."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    head = raw[:200]
    declared = _DECL_ENCODING.search(head)
    encodings = ["utf-8"]
    if declared:
        encodings.insert(0, declared.group(1).decode("ascii").lower())
    encodings += ["gb18030"]
    for enc in encodings:
        try:
            return raw.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("utf-8", errors="replace")


def _declare_prefixes(text: str) -> str:
    """Bind prefixes a producer used without declaring (``ofd:`` missing its xmlns)."""
    declared = set(re.findall(r"xmlns:([\w.-]+)\s*=", text))
    missing = {p for p in _PREFIX.findall(text) if p not in declared and p != "xml"}
    if not missing:
        return text
    decls = "".join(f' xmlns:{p}="urn:bingan:repaired:{p}"' for p in sorted(missing))
    match = re.search(r"<[A-Za-z_][\w.:-]*", text)
    if not match:
        return text
    return text[: match.end()] + decls + text[match.end():]


def _strip_namespaces(root: Element) -> Element:
    """Match on local names only: producers use the wrong namespace, or none at all."""
    for el in root.iter():
        tag = el.tag
        if isinstance(tag, str) and tag[:1] == "{":
            el.tag = tag.split("}", 1)[1]
        if el.attrib and any(k[:1] == "{" for k in el.attrib):
            el.attrib = {k.split("}", 1)[-1]: v for k, v in el.attrib.items()}
    return root


def parse_xml(raw: bytes, name: str = "") -> Element:
    text = _decode(raw)
    # The declaration may name an encoding expat cannot handle (GBK); the text is decoded now.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    try:
        root = _parse_text(text)
    except ParseError as exc:
        if "unbound prefix" not in str(exc):
            raise _bad("OFD 文件中的 XML 格式错误", f"{name}: {exc}") from exc
        try:
            root = _parse_text(_declare_prefixes(text))
        except ParseError as exc2:
            raise _bad("OFD 文件中的 XML 格式错误", f"{name}: {exc2}") from exc2
    return _strip_namespaces(root)


def _parse_text(text: str) -> Element:
    try:
        return safe_et.fromstring(text, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise _bad("OFD 文件包含不安全的 XML 实体", repr(exc)) from exc
    except RecursionError as exc:
        raise _bad("OFD 文件中的 XML 嵌套过深", "recursion") from exc


def child(el: Element | None, name: str) -> Element | None:
    """First child with this local name, case-insensitively (producers vary the case)."""
    if el is None:
        return None
    low = name.lower()
    for c in el:
        if isinstance(c.tag, str) and c.tag.lower() == low:
            return c
    return None


def children(el: Element | None, name: str) -> list[Element]:
    if el is None:
        return []
    low = name.lower()
    return [c for c in el if isinstance(c.tag, str) and c.tag.lower() == low]


def path_text(el: Element | None, *names: str) -> str:
    for name in names:
        el = child(el, name)
    return (el.text or "").strip() if el is not None else ""


def attr(el: Element | None, name: str, default: str = "") -> str:
    if el is None:
        return default
    val = el.get(name)
    if val is None:
        low = name.lower()
        for k, v in el.attrib.items():
            if k.lower() == low:
                return v
        return default
    return val
