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
    found = search_json("结核")  # every admission note's past history (否认…结核…)
    assert found["total"] >= 3 and len(found["records"]) == 3
    # 检验报告 is delivered as OFD: its text layer is what search finds.
    lab = search_json("白细胞计数 OR 血红蛋白 OR 血小板计数 OR 肌酐")
    assert {hit["document"] for r in lab["records"] for hit in r["hits"]} == {"检验报告"}
    again = run("demo", "--records", "3")
    assert again.returncode == 0 and search_json("结核")["total"] == found["total"]  # nothing added twice


def add_record(number: str) -> None:
    from bingan.storage.db import get_engine, transaction
    from bingan.storage.migrate import upgrade
    from bingan.storage.models import Patient, Record

    upgrade(get_engine())
    with transaction(get_engine()) as session:
        patient = Patient(record_number=number, name="王五", sex="M")
        session.add(Record(patient=patient, record_number=number, stay_number=1))


def item_state(item_id: int) -> str:
    from bingan.storage.db import get_engine, transaction
    from bingan.storage.models import CollectedItem

    with transaction(get_engine()) as session:
        return session.get(CollectedItem, item_id).state


def test_search_json_has_records_with_hits():
    assert run("demo", "--records", "1").returncode == 0
    found = search_json("入院记录", "--limit", "5")
    assert set(found) == {"total", "records"} and found["total"] >= 1
    record = found["records"][0]
    assert set(record) == {"record_number", "stay", "hits"} and record["record_number"] == "0100001"
    assert set(record["hits"][0]) == {"document", "page", "snippet"} and record["hits"][0]["page"] >= 1
    assert "<mark>" in record["hits"][0]["snippet"]
    missing = run("search", "入院记录", "--json", "--as", "nobody")
    assert missing.returncode == 1 and "找不到用户：nobody" in missing.stderr


def test_ingest_file_exit_codes_and_retry(tmp_path, make_pdf):
    add_record("0200001")
    scan = tmp_path / "入院记录.pdf"
    scan.write_bytes(make_pdf([["入院记录", "主诉：反复胸闷伴气促2年。"]]))
    done = run("ingest", str(scan), "--record", "0200001", "--type", "C0201")
    assert done.returncode == 0, done.stderr
    assert "已导入并入索引" in done.stdout
    assert search_json("胸闷")["records"][0]["record_number"] == "0200001"

    lost = run("ingest", str(scan), "--record", "0299999", "--type", "C0201", "--id", "second")
    assert lost.returncode == 1 and "导入失败" in lost.stderr and "0299999" in lost.stderr
    item_id = int(lost.stderr.split("条目 ")[1].split("）")[0])
    assert item_state(item_id) == "failed"
    assert run("ingest", str(tmp_path / "无此文件.pdf"), "--record", "1", "--type", "C0201").returncode == 1

    add_record("0299999")
    retried = run("ingest", "retry", str(item_id))
    assert retried.returncode == 0 and "已重新排队 1 个条目" in retried.stdout
    assert item_state(item_id) == "fetched"  # back where it stopped; a worker (or the sweeper's kick) resumes it
    from bingan.ingest.pipeline import Pipeline, run_until_settled

    pipe = Pipeline()
    assert run_until_settled(pipe, [item_id], timeout=60) == {item_id: "indexed"}
    pipe.close()
    nothing = run("ingest", "retry")
    assert nothing.returncode == 2 and "--all-failed" in nothing.stderr


def test_reindex_resumes_from_its_checkpoint_after_being_killed():
    import signal
    import time

    from bingan.config import get_settings
    from bingan.ingest.reindex import CHECKPOINT

    assert run("demo", "--records", "2").returncode == 0
    full = run("reindex", "--fresh")
    total = int(full.stdout.strip().splitlines()[-1].split("共 ")[1].split(" 页")[0])
    admissions = search_json("入院记录")["total"]
    checkpoint = get_settings().resolved_index_dir / CHECKPOINT
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen([BINGAN, "reindex", "--fresh", "--batch", "1"], env=env, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    for _ in range(3):  # three batches committed, then the power goes
        assert child.stdout.readline().startswith("已索引")
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    stopped_at = json.loads(checkpoint.read_text())["last_version_id"]
    assert stopped_at > 0
    time.sleep(0.2)
    resumed = run("reindex")
    assert resumed.returncode == 0, resumed.stderr
    done_now = int(resumed.stdout.strip().splitlines()[-1].split("共 ")[1].split(" 页")[0])
    assert 0 < done_now < total  # only what was left
    assert not checkpoint.exists()
    assert search_json("入院记录")["total"] == admissions > 0  # the killed --fresh run's half index, completed
    assert len(search_json("出院记录 OR 死亡记录")["records"]) == 2


def test_search_as_a_user_applies_the_access_policy():
    assert run("demo", "--records", "3").returncode == 0
    everything = search_json("结核")
    assert len(everything["records"]) == 3
    env = dict(os.environ, PYTHONPATH=str(REPO))
    added = subprocess.run([BINGAN, "user", "add", "ortho", "--role", "clinician", "--department", "WK02"],
                           input="Xq7#mPv2!tRz9$Lk\n", capture_output=True, text=True, env=env, timeout=60)
    assert added.returncode == 0, added.stderr
    own = search_json("结核", "--as", "ortho")
    assert [r["record_number"] for r in own["records"]] == ["0100002"]  # 骨科 only
    from bingan.storage.db import get_engine, transaction
    from bingan.storage.models import IpRule

    with transaction(get_engine()) as session:
        session.add(IpRule(cidr="127.0.0.0/8", kind="block", active=True))
    blocked = search_json("结核", "--as", "ortho")
    assert blocked == {"total": 0, "records": []}  # the console address is blocked for this user too
    assert search_json("结核", "--as", "ortho", "--ip", "10.1.2.3")["total"] >= 1
