"""Bulk record-number lookup input and output: pasted text, txt/csv/xlsx uploads, xlsx export."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from bingan.formats.spreadsheet import Spreadsheet
from bingan.records.lookup import LookupResult
from bingan.web.templating import local_date

MAX_NUMBERS = 20_000
HIDDEN = "***"
NOT_OPENABLE = "无权查阅"
SPLIT = re.compile(r"[\s,，;；、]+")


class LookupInputError(ValueError):
    """A Chinese message about the uploaded or pasted numbers."""


def numbers_from_text(text: str) -> list[str]:
    return [part for part in SPLIT.split(text) if part]


def numbers_from_upload(filename: str, data: bytes) -> list[str]:
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _from_xlsx(data)
    text = _decode(data)
    if name.endswith(".csv"):
        return [row[0].strip() for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
    return numbers_from_text(text)


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
    numbers = []
    for row in book.active.iter_rows(values_only=True):
        value = row[0] if row else None
        if value is not None and str(value).strip():
            numbers.append(str(int(value)) if isinstance(value, float) and value.is_integer() else str(value).strip())
        if len(numbers) > MAX_NUMBERS:
            break  # enough for check_count to refuse: a small file can unpack to millions of rows
    return numbers


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
    via_alias: bool
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
        ShownRow(asked=asked, via_alias=asked in result.via_alias, record_id=ref.record_id,
                 record_number=ref.record_number, stay=ref.stay,
                 visit="住院" if ref.visit_type == "inpatient" else "门诊", openable=ref.record_id in openable,
                 patient_name=ref.patient_name if ref.record_id in openable else HIDDEN,
                 discharged=local_date(ref.discharged_at) if ref.record_id in openable else HIDDEN)
        for asked, refs in result.found.items() for ref in refs
    ]


def export_xlsx(rows: list[ShownRow], missing: list[str]) -> bytes:
    book = Spreadsheet()  # typed record numbers stay text, never formulas
    found = book.sheet("已找到", ["查询号", "病案号", "住院次数", "类型", "姓名", "出院时间", "查阅"])
    for row in rows:
        found.append([row.asked, row.record_number, row.stay, row.visit, row.patient_name,
                      row.discharged, "" if row.openable else NOT_OPENABLE])
    missing_sheet = book.sheet("未找到", ["病案号"])
    for number in missing:
        missing_sheet.append([number])
    return book.close()
