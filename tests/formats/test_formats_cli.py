"""`bingan inspect` and `bingan render` as operators run them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.timeout(120)
BINGAN = str(Path(sys.executable).with_name("bingan"))
REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    # The checkout under test comes first, whatever the editable install points at.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([BINGAN, *args], capture_output=True, text=True, timeout=100, env=env)


def test_inspect_json_shape(text_pdf, tmp_path):
    path = tmp_path / "record.pdf"
    path.write_bytes(text_pdf)
    done = _run("inspect", str(path), "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["error"] is None
    assert (report["media_type"], report["pages"], len(report["text"])) == ("application/pdf", 2, 2)
    assert "冠状动脉粥样硬化性心脏病" in report["text"][0] and report["signatures"] == []


def test_inspect_rejected_file_exit_1_with_chinese_error(gen, text_pdf, tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(gen.encrypted_pdf(text_pdf))
    done = _run("inspect", str(path), "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 1 and "已加密" in report["error"] and "Traceback" not in done.stderr


def test_inspect_random_bytes_no_traceback(gen, tmp_path):
    path = tmp_path / "noise.bin"
    path.write_bytes(gen.random_bytes())
    done = _run("inspect", str(path))
    assert done.returncode == 1 and "错误" in done.stdout and "Traceback" not in done.stderr


def test_inspect_summary_is_chinese(text_pdf, tmp_path):
    path = tmp_path / "record.pdf"
    path.write_bytes(text_pdf)
    done = _run("inspect", str(path))
    assert done.returncode == 0 and "页数：2" in done.stdout


def test_render_writes_png_of_requested_dpi(text_pdf, tmp_path):
    path, out = tmp_path / "record.pdf", tmp_path / "page.png"
    path.write_bytes(text_pdf)
    done = _run("render", str(path), "--page", "2", "--dpi", "72", "-o", str(out))
    assert done.returncode == 0 and Image.open(out).size == (596, 842)  # PDFium rounds 595.3 pt up


def test_render_missing_page_exit_1(text_pdf, tmp_path):
    path = tmp_path / "record.pdf"
    path.write_bytes(text_pdf)
    done = _run("render", str(path), "--page", "7", "-o", str(tmp_path / "x.png"))
    assert done.returncode == 1 and "超出范围" in done.stderr and "Traceback" not in done.stderr
