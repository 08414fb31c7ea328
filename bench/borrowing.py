"""Borrowing benchmark: applying for a borrowing and each approval decision, against a plain record
page GET.

    .venv/bin/python bench/borrowing.py [--rounds 60]

Builds a throw-away HOME with the test hospital of tests/access/world.py, a head of the respiratory
department (科主任, role dept_head) and ``--rounds`` archived respiratory records (two documents
each), and drives the app in process (FastAPI TestClient: the same dependencies, transactions and
audit as under uvicorn) as the cardiology clinician, that head and 医务处. Each round: GET
/records/{id} of the clinician's own department (the baseline), POST /api/v1/borrowing for one
respiratory record (the shipped flow 借阅：外科室病案 is chosen), then the two decisions through POST
/api/v1/approvals/{id}/decision; the last one runs the borrowing's on_approved (the grant of that
record for those days). Reports p50/p95 and the p95 ratio to the baseline of the same run. Not
part of the test suite.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from recall import _p95, timed  # also puts tests/access, tests/web and the repository on sys.path


def prepare(home: Path, rounds: int) -> tuple[int, list[int]]:
    """The baseline record and the respiratory records to borrow."""
    os.environ["BINGAN_HOME"] = str(home)
    from bingan.config import get_settings, reset_settings

    reset_settings()
    from web_helpers import TOTP_SECRET
    from world import PASSWORD, add_pdf_document, build_world

    from bingan.access.accounts import create_user
    from bingan.records import lifecycle
    from bingan.storage.db import get_engine, transaction
    from bingan.storage.migrate import upgrade
    from bingan.storage.models import Patient, Record

    engine = get_engine(get_settings())
    upgrade(engine)
    with transaction(engine) as session:
        world = build_world(session)
        head = create_user(session, "u_head_resp", PASSWORD, ["dept_head"], full_name="呼吸内科主任",
                           department_code="0302", must_change_password=False)
        head.totp_secret = TOTP_SECRET
        template = world.records["other_department"]
        records = []
        for n in range(rounds):
            number = f"8{n:06d}"
            record = Record(patient=Patient(record_number=number, name="基准患者", sex="M"), record_number=number,
                            stay_number=1, campus_id=template.campus_id, discharged_at=template.discharged_at,
                            admission_department_id=template.admission_department_id,
                            discharge_department_id=template.discharge_department_id, attending_doctor="王主任")
            session.add(record)
            session.flush()
            for status in ("awaiting", "submitted", "qc", "archived"):
                lifecycle.move(session, lifecycle.SYSTEM, record, status, "基准")
            add_pdf_document(session, record, "入院记录")
            add_pdf_document(session, record, "出院记录")
            records.append(record.id)
        return world.records["normal"].id, records


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bingan-bench-borrowing-"))
    baseline_record, record_ids = prepare(home, args.rounds)
    from fastapi.testclient import TestClient
    from web_helpers import sign_in

    from bingan.config import get_settings
    from bingan.web.app import create_app

    app = create_app(get_settings())
    people = {}
    for role in ("clinician", "head_resp", "medical_affairs"):
        client = TestClient(app, client=("127.0.0.1", 50000))
        assert sign_in(client, f"u_{role}").status_code == 303
        people[role] = (client, {"X-CSRF-Token": client.get("/api/v1/me").json()["csrf_token"]})
    times: dict[str, list[float]] = {"record page GET (baseline)": [], "apply (POST /api/v1/borrowing)": [],
                                     "decision 1 (科主任)": [], "decision 2 (医务处, grant made)": []}
    names = list(times)
    clinician, headers = people["clinician"]
    for n, record_id in enumerate(record_ids):
        times[names[0]].append(timed(clinician, "GET", f"/records/{baseline_record}")[0])
        elapsed, request = timed(clinician, "POST", "/api/v1/borrowing", headers=headers,
                                 json={"record_ids": [record_id], "days": 5, "purpose": "病例讨论",
                                       "reason": f"基准借阅 {n}"})
        times[names[1]].append(elapsed)
        for name, role in ((names[2], "head_resp"), (names[3], "medical_affairs")):
            client, role_headers = people[role]
            times[name].append(timed(client, "POST", f"/api/v1/approvals/{request['id']}/decision",
                                     headers=role_headers, json={"decision": "approve", "opinion": "同意"})[0])
    warm = min(5, args.rounds // 4)
    baseline = _p95(times[names[0]][warm:])
    print(f"{args.rounds} rounds (first {warm} dropped), HOME {home}, load {os.getloadavg()[0]:.1f}")
    print("| measure | p50 ms | p95 ms | p95 / baseline | target |\n|---|---|---|---|---|")
    for name, values in times.items():
        values = values[warm:]
        p95 = _p95(values)
        target = "" if name == names[0] else ("≤ 100 ✔" if p95 <= 100 else "≤ 100 ✘")
        print(f"| {name} | {statistics.median(values):.1f} | {p95:.1f} | {p95 / baseline:.1f} | {target} |")


if __name__ == "__main__":
    main()
