"""XML and HTML reports as readable text: CDA shared documents (WS/T 500), HIS/LIS XML exports,
HTML reports. The text is then laid out on A4 pages like a plain-text report (text.py).

Showing markup raw would bury the record under tags and codes. What a reader needs:

* CDA (``ClinicalDocument`` in ``urn:hl7-org:v3``): titles as headings, narrative text, and for
  coded entries the code's ``displayName`` followed by the value (``体温：37.5 ℃``). Identifiers,
  template ids and machine codes are left out.
* Other XML: one line per element, ``标签：文字``, attributes where an element has no text,
  indented by depth, so an export like ``<患者姓名>张三</患者姓名>`` reads as it was meant.
* HTML: the visible text, blocks on their own lines, table cells separated by tabs; scripts
  and styles dropped.

XML is parsed with defusedxml (no entity expansion, no external resources). Markup that does
not parse is shown as the text it is: nothing in it is lost.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from bingan.formats.base import FormatError

CDA_NAMESPACE = "urn:hl7-org:v3"
_CDA_SKIPPED = {"id", "templateId", "typeId", "realmCode", "confidentialityCode", "languageCode", "setId",
                "versionNumber", "effectiveTime", "telecom", "templateID"}
_SPACES = re.compile(r"\s+")
_MAX_INDENT = 8  # deeper levels share one indent: a hostile nesting must not grow lines quadratically
# The text arrives decoded (text.decode: BOM, UTF-8, GB18030); a declared GBK would make expat
# decode it a second time, and expat cannot read multi-byte legacy encodings anyway.
_DECLARED_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*["'][^"']*["']""")


def xml_text(content: str) -> tuple[str, str]:
    """(readable text, how it was read: "cda", "xml" or "raw" when it did not parse)."""
    try:
        root = fromstring(_DECLARED_ENCODING.sub(r"\1", content, count=1).encode("utf-8"))
    except DefusedXmlException as exc:
        raise FormatError("XML 文件包含实体或外部引用定义，可能是恶意文件，已拒绝", repr(exc)) from exc
    except (ParseError, ValueError):
        return content, "raw"
    if root.tag == f"{{{CDA_NAMESPACE}}}ClinicalDocument":
        return "\n".join(_cda_lines(root)), "cda"
    return "\n".join(_xml_lines(root)), "xml"


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _own_text(element: Element) -> str:
    return _SPACES.sub(" ", element.text or "").strip()


def _walk(root: Element) -> list[tuple[Element, int, Element | None]]:
    """(element, depth, parent) in document order, without recursion: deep files must not crash us."""
    order: list[tuple[Element, int, Element | None]] = []
    stack: list[tuple[Element, int, Element | None]] = [(root, 0, None)]
    while stack:
        element, depth, parent = stack.pop()
        order.append((element, depth, parent))
        stack.extend((child, depth + 1, element) for child in reversed(element))
    return order


def _xml_lines(root: Element) -> list[str]:
    lines = []
    for element, depth, _ in _walk(root):
        name = _local(element.tag)
        if not name:
            continue  # comments and processing instructions
        text = _own_text(element)
        if not text and len(element) == 0:
            text = " ".join(f"{_local(k)}={v}" for k, v in element.attrib.items())
        indent = "  " * min(max(depth - 1, 0), _MAX_INDENT)
        if depth == 0:
            lines.append(f"【{name}】" + (f" {text}" if text else ""))
        else:
            lines.append(f"{indent}{name}：{text}" if text else f"{indent}{name}")
    return lines


def _cda_lines(root: Element) -> list[str]:
    lines: list[str] = []
    skipped: set[int] = set()
    for element, _, parent in _walk(root):
        if id(parent) in skipped or _local(element.tag) in _CDA_SKIPPED:
            skipped.add(id(element))
            continue
        line = _cda_line(element, parent)
        if line:
            lines.append(line)
    return lines


def _cda_line(element: Element, parent: Element | None) -> str:
    name = _local(element.tag)
    text = _own_text(element)
    if name == "title":
        return f"\n【{text}】" if text else ""
    if name == "code" and parent is not None and _has_child(parent, "value"):
        return ""  # its displayName labels the value below
    if name == "value":
        label = _code_label(parent)
        value = text or " ".join(filter(None, (element.get("value"), element.get("unit"),
                                              element.get("displayName"))))
        return f"{label}：{value}" if label and value else value
    if text:
        return text
    if len(element) == 0:
        return element.get("displayName") or ""  # a coded field: 性别 → 男性
    return ""


def _has_child(element: Element, name: str) -> bool:
    return any(_local(child.tag) == name for child in element)


def _code_label(parent: Element | None) -> str:
    if parent is None:
        return ""
    for child in parent:
        if _local(child.tag) == "code":
            return child.get("displayName") or ""
    return ""


# Paragraph-like blocks are set off by an empty line; rows and list items just end their line.
_PARAGRAPHS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section", "article", "header", "footer",
               "title", "blockquote", "pre", "hr", "ul", "ol", "form", "caption"}
_LINES = {"tr", "li", "dt", "dd", "div"}
_HIDDEN = {"script", "style", "noscript", "template"}
_CELLS = {"td", "th"}


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in _HIDDEN
        self._pre += tag == "pre"
        if tag in _PARAGRAPHS:
            self.parts.append("\n\n")
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _CELLS:
            self.parts.append("\t")  # the line's leading tab is stripped; the others separate cells

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(self._hidden - 1, 0)
        if tag == "pre":
            self._pre = max(self._pre - 1, 0)
        if tag in _PARAGRAPHS:
            self.parts.append("\n\n")
        elif tag in _LINES:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data if self._pre else _SPACES.sub(" ", data))


def html_text(content: str) -> str:
    parser = _HtmlText()
    parser.feed(content)
    parser.close()
    kept: list[str] = []
    for line in "".join(parser.parts).split("\n"):
        line = line.strip()
        if line or (kept and kept[-1]):  # at most one empty line in a row: nested blocks leave many
            kept.append(line)
    return "\n".join(kept).strip()
