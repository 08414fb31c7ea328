"""OFD files through the one interface (open_document) and `bingan inspect`, as the pipeline sees them."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ofd_gen  # tests/fixtures, put on sys.path by conftest.py

from bingan.formats.document import open_document

BIN = Path(sys.executable).parent / "bingan"


def test_an_ofd_is_detected_by_content_and_read_through_open_document():
    document = open_document(ofd_gen.simple_ofd(pages=2))
    assert document.media_type == "application/ofd"
    assert document.page_count() == 2
    texts = document.page_texts()
    assert "出院诊断：肺炎，2型糖尿病" in texts[0].text
    assert texts[1].text.endswith("第2页")  # spaces between Chinese and digits are dropped for indexing
    assert document.render(1, dpi=72).size[0] > 100


def test_inspect_prints_the_text_of_an_ofd(tmp_path):
    path = tmp_path / "misnamed.pdf"  # the name lies: detection goes by content
    path.write_bytes(ofd_gen.simple_ofd())
    done = subprocess.run([BIN, "inspect", str(path), "--json"], capture_output=True, text=True, timeout=120)
    result = json.loads(done.stdout)
    assert done.returncode == 0 and result["error"] is None
    assert result["media_type"] == "application/ofd" and result["pages"] == 1
    assert "社区获得性肺炎" in result["text"][0]
