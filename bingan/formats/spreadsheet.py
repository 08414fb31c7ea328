"""Writing xlsx: every text cell is stored as text, never as a formula or a link.

Exports carry text typed by anyone: a user name tried at the login form reaches the auditor's
audit export. xlsxwriter's ``write`` turns a string starting with ``=`` into a live formula
(``=HYPERLINK(...)`` sends data away when clicked) and a string that looks like a URL into a link.
Every xlsx we write goes through ``Spreadsheet``: the workbook switches those conversions off and
each text cell is written as a string.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

TEXT_STAYS_TEXT = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


class Sheet:
    """One worksheet filled row by row below its bold header."""

    def __init__(self, worksheet: Worksheet, header_format: object, headers: Sequence[str]) -> None:
        self._worksheet = worksheet
        self._next_row = 0
        self.append(headers, header_format)

    def append(self, values: Sequence[object], cell_format: object = None) -> None:
        for column, value in enumerate(values):
            if isinstance(value, str):
                self._worksheet.write_string(self._next_row, column, value, cell_format)
            else:
                self._worksheet.write(self._next_row, column, value, cell_format)
        self._next_row += 1


class Spreadsheet:
    """An xlsx workbook in memory or in a file; rows are flushed as they are written (constant memory)."""

    def __init__(self, target: Path | None = None) -> None:
        """In memory, or into the file ``target`` (a large export: then ``close`` returns b"")."""
        self._out = io.BytesIO() if target is None else None
        self._book = xlsxwriter.Workbook(str(target) if target is not None else self._out,
                                         {"constant_memory": True, "in_memory": False,
                                          **TEXT_STAYS_TEXT})
        self._bold = self._book.add_format({"bold": True})

    def sheet(self, name: str, headers: Sequence[str]) -> Sheet:
        return Sheet(self._book.add_worksheet(name), self._bold, headers)

    def close(self) -> bytes:
        self._book.close()
        return self._out.getvalue() if self._out is not None else b""
