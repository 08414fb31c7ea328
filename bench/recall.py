"""Recall benchmark: applying for a recall and each approval decision, against a plain record page GET.

    .venv/bin/python bench/recall.py [--rounds 60]

Builds a throw-away HOME with the test hospital of tests/access/world.py plus ``--rounds`` archived
cardiology records (two documents each), and drives the app in process (FastAPI TestClient, the
same dependencies, transactions and audit as under uvicorn) as the clinician, the head of
department and the record room. Each round: GET /records/{id} (the baseline), POST
/api/v1/records/{id}/recall, then the two decisions through POST /api/v1/approvals/{id}/decision;
the last one runs the recall's on_approved (pin every current version, move to 召回中, re-collection
request, notices). Reports p50/p95 and the p95 ratio to the baseline of the same run. Not part of
the test suite.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "access"), str(ROOT / "tests" / "fixtures"), str(ROOT / "tests" / "web"),
                str(ROOT)]


def prepare(home: Path, rounds: int) -> list[int]:
    os.environ["BINGAN_HOME"] = str(home)
    from bingan.config import get_settings, reset_settings

    reset_settings()
    from world import add_pdf_document, build_world

    from bingan.records import lifecycle
    from bingan.storage.db import get_engine, transaction
    from bingan.storage.migrate import upgrade
    from bingan.storage.models import Patient, Record

    engine = get_engine(get_settings())
    upgrade(engine)
    with transaction(engine) as session:
        world = build_world(session)
        template = world.records["normal"]
        records = []
        for n in range(rounds):
            number = f"9{n:06d}"
            record = Record(patient=Patient(record_number=number, name="基准患者", sex="F"), record_number=number,
                            stay_number=1, campus_id=template.campus_id, discharged_at=template.discharged_at,
                            admission_department_id=template.admission_department_id,
                            discharge_department_id=template.discharge_department_id, attending_doctor="李主任")
            session.add(record)
            session.flush()
            for status in ("awaiting", "submitted", "qc", "archived"):
                lifecycle.move(session, lifecycle.SYSTEM, record, status, "基准")
            add_pdf_document(session, record, "入院记录")
            add_pdf_document(session, record, "出院记录")
            records.append(record.id)
    return records


def timed(client, method: str, url: str, **kwargs) -> tuple[float, dict]:
    start = time.perf_counter()
    response = client.request(method, url, **kwargs)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code in (200, 201), (response.status_code, response.text[:300])
    return elapsed, (response.json() if method == "POST" else {})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bingan-bench-recall-"))
    record_ids = prepare(home, args.rounds)
    from fastapi.testclient import TestClient
    from web_helpers import sign_in

    from bingan.config import get_settings
    from bingan.web.app import create_app

    app = create_app(get_settings())
    people = {}
    for role in ("clinician", "medical_affairs", "archivist"):
        client = TestClient(app, client=("127.0.0.1", 50000))
        assert sign_in(client, f"u_{role}").status_code == 303
        people[role] = (client, {"X-CSRF-Token": client.get("/api/v1/me").json()["csrf_token"]})
    times: dict[str, list[float]] = {"record page GET (baseline)": [], "apply (POST …/recall)": [],
                                     "decision 1 (科室审核)": [], "decision 2 (病案室, recall happens)": []}
    names = list(times)
    clinician, headers = people["clinician"]
    for n, record_id in enumerate(record_ids):
        times[names[0]].append(timed(clinician, "GET", f"/records/{record_id}")[0])
        elapsed, request = timed(clinician, "POST", f"/api/v1/records/{record_id}/recall", headers=headers,
                                 json={"reason": f"基准召回 {n}", "deadline_days": 5})
        times[names[1]].append(elapsed)
        for name, role in ((names[2], "medical_affairs"), (names[3], "archivist")):
            client, role_headers = people[role]
            times[name].append(timed(client, "POST", f"/api/v1/approvals/{request['id']}/decision",
                                     headers=role_headers, json={"decision": "approve", "opinion": "同意"})[0])
    warm = min(5, args.rounds // 4)
    baseline = _p95(times[names[0]][warm:])
    print(f"{args.rounds} rounds (first {warm} dropped), HOME {home}")
    print("| measure | p50 ms | p95 ms | p95 / baseline | target |\n|---|---|---|---|---|")
    for name, values in times.items():
        values = values[warm:]
        p95 = _p95(values)
        target = "" if name == names[0] else ("≤ 100 ✔" if p95 <= 100 else "≤ 100 ✘")
        print(f"| {name} | {statistics.median(values):.1f} | {p95:.1f} | {p95 / baseline:.1f} | {target} |")


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else max(values)


if __name__ == "__main__":
    main()
