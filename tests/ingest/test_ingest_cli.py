"""The operator commands as operators run them: demo, search --json, ingest, ingest retry, reindex."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)
BINGAN = str(Path(sys.executable).with_name("bingan"))
REPO = Path(__file__).resolve().parents[2]


def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    # BINGAN_HOME comes from the autouse fixture; the checkout under test comes first on the path.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([BINGAN, *args], capture_output=True, text=True, timeout=timeout, env=env)


def search_json(query: str, *extra: str) -> dict:
    done = run("search", query, "--json", *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_demo_records_are_searchable_including_ofd_documents():
    done = run("demo", "--records", "3")
    assert done.returncode == 0, done.stderr
    assert "演示数据已导入" in done.stdout and "indexed" in done.stdout and "failed" not in done.stdout
    found = search_json("肺炎")
    assert found["total"] >= 3 and len(found["records"]) == 3
    # 检验报告 is delivered as OFD: its text layer is what search finds.
    lab = search_json("白细胞计数 OR 血红蛋白 OR 血小板计数 OR 空腹血糖 OR 肌酐")
    assert {hit["document"] for r in lab["records"] for hit in r["hits"]} == {"检验报告"}
    again = run("demo", "--records", "3")
    assert again.returncode == 0 and search_json("肺炎")["total"] == found["total"]  # nothing added twice
