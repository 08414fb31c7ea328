"""The copying JSON API through the app as the copy-window clerk: apply (201 with the fee), pay,
print (202 with the job), follow the job, download the PDF, the record's print status; a sealed
record refused with the reason; other roles refused."""
from __future__ import annotations

import sys
from pathlib import Path

import pypdfium2
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "release"))

from release_support import AGENT, run_queued_jobs

from bingan import broker
from bingan.records.workflows import install


@pytest.fixture(autouse=True)
def quiet_broker(monkeypatch) -> None:
    install()
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())


def _call(client, verb: str, url: str, **json):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.request(verb, url, json=json or None, headers={"X-CSRF-Token": token})


def test_a_clerk_applies_pays_prints_and_the_record_shows_the_print(client_for, web_engine, world):
    clerk = client_for("copy_clerk")
    record_id = world.records["normal"].id
    applied = _call(clerk, "POST", "/api/v1/copy-requests", applicant=AGENT, record_ids=[record_id],
                    package="reimbursement", copies=1)
    assert applied.status_code == 201, applied.text
    request = applied.json()
    assert request["pages"] == 3 and request["fee"] == 6.5 and request["fee_yuan"] == "6.50"
    assert "授权委托书" in [paper["name"] for paper in request["missing_papers"]]
    paid = _call(clerk, "POST", f"/api/v1/copy-requests/{request['id']}/pay", method="cash")
    assert paid.json()["status"] == "paid"
    started = _call(clerk, "POST", f"/api/v1/copy-requests/{request['id']}/print")
    assert started.status_code == 202 and started.json()["state"] == "queued"
    assert run_queued_jobs(web_engine) == ["done"]
    job = clerk.get(f"/api/v1/jobs/{started.json()['id']}").json()
    assert job["state"] == "done" and job["result_url"]
    assert clerk.get(job["result_url"]).content.startswith(b"%PDF")
    prints = client_for("archivist").get(f"/api/v1/records/{record_id}/prints").json()
    assert prints["printed"] and prints["items"][-1]["for_whom"] == "王小明（患者代理人）"
    assert prints["items"][-1]["kind"] == "复印" and prints["items"][-1]["version"] == 1


def test_a_sealed_record_is_refused_with_the_reason(client_for, world):
    response = _call(client_for("copy_clerk"), "POST", "/api/v1/copy-requests", applicant=AGENT,
                     record_ids=[world.records["sealed"].id], package="all")
    assert response.status_code == 403 and "封存" in response.json()["detail"]


def test_bad_input_is_refused_in_chinese(client_for, world):
    response = _call(client_for("copy_clerk"), "POST", "/api/v1/copy-requests",
                     applicant={**AGENT, "id_number": "110105194912310021"},
                     record_ids=[world.records["normal"].id], package="all")
    assert response.status_code == 400 and "校验位错误" in response.json()["detail"]


def test_only_the_copy_window_and_the_record_room_serve_copies(client_for, world):
    response = _call(client_for("clinician"), "POST", "/api/v1/copy-requests", applicant=AGENT,
                     record_ids=[world.records["normal"].id], package="all")
    assert response.status_code == 403


def _pdf_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return "".join(page.get_textpage().get_text_range() for page in document).replace(" ", "")
    finally:
        document.close()


def test_the_receipt_and_the_application_form_download_as_pdf_behind_the_same_gate(client_for, world):
    clerk = client_for("copy_clerk")
    request = _call(clerk, "POST", "/api/v1/copy-requests", applicant=AGENT, record_ids=[world.records["normal"].id],
                    package="reimbursement").json()
    base = f"/api/v1/copy-requests/{request['id']}"
    unpaid = clerk.get(f"{base}/receipt.pdf")
    assert unpaid.status_code == 409 and "尚未缴费" in unpaid.json()["detail"]
    _call(clerk, "POST", f"{base}/pay", method="card", reference="POS-0042")
    receipt = clerk.get(f"{base}/receipt.pdf")
    assert receipt.headers["content-type"] == "application/pdf"
    assert "合计6.50" in _pdf_text(receipt.content) and "POS-0042" in _pdf_text(receipt.content)
    form = clerk.get(f"{base}/application.pdf")
    assert "病案复印申请表" in _pdf_text(form.content) and "【尚缺】授权委托书" in _pdf_text(form.content)
    assert client_for("clinician").get(f"{base}/receipt.pdf").status_code == 403
    assert client_for("clinician").get(f"{base}/application.pdf").status_code == 403
