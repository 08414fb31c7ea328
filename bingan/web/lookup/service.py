"""Bulk record-number lookup input and output: pasted text, txt/csv/xlsx uploads, xlsx export."""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from bingan.access.policy import decide_for
from bingan.config import get_settings
from bingan.errors import Refusal
from bingan.formats.spreadsheet import Spreadsheet
from bingan.records.lookup import LookupResult, lookup_record_numbers
from bingan.storage.models import Record
from bingan.web.deps import Ctx
from bingan.web.templating import local_date

MAX_NUMBERS = 20_000
HIDDEN = "***"
NOT_OPENABLE = "无权查阅"
SPLIT = re.compile(r"[\s,，;；、]+")


class LookupInputError(Refusal, ValueError):
    """A Chinese message about the uploaded or pasted numbers (the API answers it 400 through the
    one handler; the page shows it on the form, the pasted numbers kept)."""


# Column headings of a record-number list (病案号 first: a sheet with both columns is looked up by it).
NUMBER_HEADINGS = ("病案号", "病历号", "病案编号", "住院号")


def numbers_from_text(text: str) -> list[str]:
    """Pasted numbers: one per line or separated by commas and spaces; lines with tabs are rows
    copied from a spreadsheet (the number column is found as in an upload); a first word with no
    digit is a heading (病案号), not a number."""
    if "\t" in text:
        return numbers_from_rows(line.split("\t") for line in text.splitlines())
    words = [part for part in SPLIT.split(text) if part]
    return words[1:] if words and not _has_digit(words[0]) else words


def numbers_from_upload(filename: str, data: bytes) -> list[str]:
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _from_xlsx(data)
    text = _decode(data)
    if name.endswith(".csv"):
        return numbers_from_rows(csv.reader(io.StringIO(text)))
    return numbers_from_text(text)


def numbers_from_rows(rows: Iterable[Sequence[object]]) -> list[str]:
    """The number column of a table: the one headed 病案号 (or 住院号…) when the first row is a
    heading, else the first; the heading row itself is not a number asked."""
    numbers: list[str] = []
    column = 0
    for index, row in enumerate(rows):
        cells = [_cell(value) for value in row]
        if index == 0 and _is_heading(cells):
            column = _number_column(cells)
            continue
        value = cells[column] if column < len(cells) else ""
        if value:
            numbers.append(value)
        if len(numbers) > MAX_NUMBERS:
            break  # enough for check_count to refuse: a small file can unpack to millions of rows
    return numbers


def _cell(value: object) -> str:
    """A cell as the number it holds: Excel's numeric cells come as floats (100051.0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFKC", str(value)).strip()


def _has_digit(text: str) -> bool:
    return any(character.isdigit() for character in unicodedata.normalize("NFKC", text))


def _is_heading(cells: list[str]) -> bool:
    return any(cell in NUMBER_HEADINGS for cell in cells) or bool(cells and cells[0] and not _has_digit(cells[0]))


def _number_column(cells: list[str]) -> int:
    for heading in NUMBER_HEADINGS:
        if heading in cells:
            return cells.index(heading)
    return 0


def _decode(data: bytes) -> str:
    """Hospital PCs save text as UTF-8 or GB18030 (Excel's "CSV" on Chinese Windows)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LookupInputError("无法识别文件编码，请保存为 UTF-8 或 GBK 编码的文本")


def _from_xlsx(data: bytes) -> list[str]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise LookupInputError("无法读取 Excel 文件，请确认是 .xlsx 格式") from exc
    return numbers_from_rows(book.active.iter_rows(values_only=True))


def check_count(numbers: list[str]) -> None:
    if not numbers:
        raise LookupInputError("请输入或上传至少一个病案号")
    if len(numbers) > MAX_NUMBERS:
        raise LookupInputError(f"一次最多查询{MAX_NUMBERS}个病案号，本次超过了这个数量")


@dataclass(frozen=True, slots=True)
class ShownRow:
    """One found record as the lookup page shows it: name and discharge date only when the user
    may open the record (the existence of a record number is not patient data, its contents are)."""

    asked: str
    via: str  # "" | 别名 | 住院号: how the number asked led to the record
    record_id: int
    record_number: str
    stay: int
    visit: str
    openable: bool
    patient_name: str
    discharged: str


def shown_rows(result: LookupResult, openable: set[int]) -> list[ShownRow]:
    """The rows of the page and of its export: one list, so the export never shows more."""
    return [
        ShownRow(asked=asked, via=_via(result, asked), record_id=ref.record_id,
                 record_number=ref.record_number, stay=ref.stay,
                 visit="住院" if ref.visit_type == "inpatient" else "门诊", openable=ref.record_id in openable,
                 patient_name=ref.patient_name if ref.record_id in openable else HIDDEN,
                 discharged=local_date(ref.discharged_at) if ref.record_id in openable else HIDDEN)
        for asked, refs in result.found.items() for ref in refs
    ]


def _via(result: LookupResult, asked: str) -> str:
    if asked in result.via_alias:
        return "别名"
    return "住院号" if asked in result.via_inpatient else ""


def export_xlsx(rows: list[ShownRow], missing: list[str]) -> bytes:
    book = Spreadsheet()  # typed record numbers stay text, never formulas
    found = book.sheet("已找到", ["查询号", "病案号", "住院次数", "类型", "姓名", "出院时间", "查阅", "匹配方式"])
    for row in rows:
        found.append([row.asked, row.record_number, row.stay, row.visit, row.patient_name,
                      row.discharged, "" if row.openable else NOT_OPENABLE, row.via])
    missing_sheet = book.sheet("未找到", ["病案号"])
    for number in missing:
        missing_sheet.append([number])
    return book.close()


def run_lookup(ctx: Ctx, numbers: list[str]) -> tuple[LookupResult, set[int]]:
    result = lookup_record_numbers(ctx.session, numbers, width=get_settings().record_number_width)
    ids = [ref.record_id for refs in result.found.values() for ref in refs]
    openable = set()
    for start in range(0, len(ids), 900):
        for record in ctx.session.scalars(sa.select(Record).where(Record.id.in_(ids[start:start + 900]))):
            if decide_for(ctx.subject, "view", record):
                openable.add(record.id)
    ctx.audit("lookup", object_type="lookup", detail={"查询数": len(numbers), "找到": len(result.found),
                                                      "未找到": len(result.missing)})
    return result, openable
