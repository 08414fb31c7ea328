"""Bulk record-number lookup input and output: pasted text, txt/csv/xlsx uploads, xlsx export."""
from __future__ import annotations

import csv
import io
import re

from bingan.formats.spreadsheet import Spreadsheet
from bingan.records.lookup import LookupResult

MAX_NUMBERS = 20_000
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
    return numbers


def check_count(numbers: list[str]) -> None:
    if not numbers:
        raise LookupInputError("请输入或上传至少一个病案号")
    if len(numbers) > MAX_NUMBERS:
        raise LookupInputError(f"一次最多查询{MAX_NUMBERS}个病案号，当前{len(numbers)}个")


def export_xlsx(result: LookupResult) -> bytes:
    book = Spreadsheet()  # typed record numbers stay text, never formulas
    found = book.sheet("已找到", ["查询号", "病案号", "住院次数", "类型", "姓名", "出院时间"])
    for asked, refs in result.found.items():
        for ref in refs:
            discharged = ref.discharged_at.strftime("%Y-%m-%d") if ref.discharged_at else ""
            found.append([asked, ref.record_number, ref.stay,
                          "住院" if ref.visit_type == "inpatient" else "门诊", ref.patient_name, discharged])
    missing = book.sheet("未找到", ["病案号"])
    for number in result.missing:
        missing.append([number])
    return book.close()
