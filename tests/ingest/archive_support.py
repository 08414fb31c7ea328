"""A scanned archive on disk for the historical-import tests: text-layer PDFs (no OCR needed, so
the tests measure the import, not the OCR) laid out as <病案号>/<住院次数>/<分类>/<file>."""
from __future__ import annotations

from pathlib import Path

from ingest_support import pdf


def page_text(number: str, file: int, page: int) -> str:
    return f"历史病案{number}第{file}份第{page}页 编号H{number}F{file}P{page}"


def write_archive(root: Path, numbers: list[str], files_per_record: int, pages_per_file: int,
                  category: str = "入院记录") -> list[Path]:
    """Each record's files under root/<number>/1/<category>/; the paths, in import order."""
    written = []
    for number in numbers:
        folder = root / number / "1" / category
        folder.mkdir(parents=True, exist_ok=True)
        for file in range(1, files_per_record + 1):
            path = folder / f"{file:03d}.pdf"
            path.write_bytes(pdf([[page_text(number, file, page)] for page in range(1, pages_per_file + 1)]))
            written.append(path)
    return written
