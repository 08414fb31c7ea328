"""File answers the pages share: an xlsx workbook built from rows, named in the hospital's words."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import quote

from fastapi.responses import Response

from bingan.formats.spreadsheet import Spreadsheet

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(filename: str, sheet_name: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    """One sheet; ``filename`` may be Chinese (sent as RFC 5987 filename*)."""
    book = Spreadsheet()
    sheet = book.sheet(sheet_name, headers)
    for row in rows:
        sheet.append(row)
    return Response(book.close(), media_type=XLSX,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
                             "Cache-Control": "no-store"})
