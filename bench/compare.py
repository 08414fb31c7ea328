"""Version comparison benchmark: text comparison of two 50-page versions and the changed regions of
one page, against a same-run baseline (difflib over the same texts line by line).

    .venv/bin/python bench/compare.py [--repeats 15]

The versions are real pages: 50 pages of Chinese medical text; version b changes one word on every
fifth page and inserts a page after page 10. Regions compare two real renders (pdfium, 1000 px
wide, as the viewer serves them) of a page differing by one word. Medians of ``--repeats`` runs.
Not part of the test suite.
"""
from __future__ import annotations

import argparse
import difflib
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "fixtures"), str(ROOT)]

import formats_gen  # noqa: E402
import pypdfium2  # noqa: E402

from bingan.records.versions.compare import changed_regions, compare_pages  # noqa: E402
from bingan.storage.models import Page  # noqa: E402

LINE = "患者主诉反复胸闷气促5年，加重3天，查体血压130/80mmHg，心率80次/分，双肺呼吸音粗，可闻及湿啰音。"


def pages(changed: bool) -> list[Page]:
    texts = ["\n".join(f"第{n}页 第{k}行 {LINE}" for k in range(30)) for n in range(1, 51)]
    if changed:
        texts = [text.replace("胸闷", "胸痛", 1) if n % 5 == 0 else text for n, text in enumerate(texts)]
        texts.insert(10, "\n".join(f"会诊记录 第{k}行 建议加用阿司匹林抗血小板治疗。" for k in range(30)))
    return [Page(number=n, text=text, text_hash="", image_hash="") for n, text in enumerate(texts, start=1)]


def timed(function, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def render(lines: list[str]):
    document = pypdfium2.PdfDocument(formats_gen.text_pdf([lines]))
    page = document[0]
    return page.render(scale=1000 / page.get_width()).to_pil().convert("RGB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    repeats = parser.parse_args().repeats
    a, b = pages(False), pages(True)
    text = timed(lambda: compare_pages(a, b), repeats)
    baseline = timed(lambda: [list(difflib.unified_diff(x.text.splitlines(), y.text.splitlines()))
                              for x, y in zip(a, b, strict=False)], repeats)
    lines = [f"第{k}行 {LINE}" for k in range(20)]
    old, new = render(lines), render([lines[0].replace("胸闷", "胸痛"), *lines[1:]])
    visual = timed(lambda: changed_regions(old, new), repeats)
    print(f"text comparison, 50 pages (+1 inserted, 10 changed): median {text * 1000:.0f} ms "
          f"(baseline line diff {baseline * 1000:.0f} ms, ratio {text / baseline:.1f}; target ≤ 1000 ms)")
    print(f"changed regions of one page (renders cached): median {visual * 1000:.1f} ms (target ≤ 300 ms), "
          f"{len(changed_regions(old, new))} region(s)")


if __name__ == "__main__":
    main()
