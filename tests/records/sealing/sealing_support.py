"""Parties and helpers shared by the sealing specifications (records and web)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bingan.access.accounts import create_user
from bingan.storage.models import User

# Real GB 11643 numbers: 11010519491231002X is the standard's own example; the other is computed.
PATIENT_ID = "11010519491231002X"
AGENT_ID = "110105198001010016"
PARTIES = [
    {"role": "patient", "name": "王建国", "id_number": PATIENT_ID},
    {"role": "agent", "name": "王小明", "id_number": AGENT_ID, "relation": "儿子"},
    {"role": "staff", "name": "测试医务处", "organisation": "医务处"},
]


def seal_head(session: Session) -> User:
    """A second holder of seal.manage: the applicant never decides their own application."""
    from world import PASSWORD

    user = create_user(session, "u_seal_head", PASSWORD, ["medical_affairs"], full_name="医务处主任",
                       department_code="0301", must_change_password=False)
    user.totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    return user


def api_call(client, method: str, url: str, **json):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.request(method, url, json=json or None, headers={"X-CSRF-Token": token})


def seal_through_api(client_for, record_id: int, parties: list[dict] | None = None) -> int:
    """Medical affairs applies, the record room approves (the default flow): the record is sealed.
    Returns the approval request's id."""
    applied = api_call(client_for("medical_affairs"), "POST", f"/api/v1/records/{record_id}/seal",
                       reason="患方对诊疗过程有异议", parties=parties or PARTIES, scope="record",
                       dispute="术后并发症争议")
    assert applied.status_code == 201, applied.text
    decided = api_call(client_for("archivist"), "POST", f"/api/v1/approvals/{applied.json()['id']}/decision",
                       decision="approve", opinion="双方在场，同意封存")
    assert decided.json()["status"] == "approved", decided.text
    return applied.json()["id"]


def build_packages(engine) -> list[str]:
    """What the worker does with the queued seal-package jobs."""
    import sqlalchemy as sa

    from bingan.config import get_settings
    from bingan.records import jobs
    from bingan.storage.blobs.port import open_blob_store
    from bingan.storage.models.jobs import Job

    with engine.connect() as connection:
        queued = connection.scalars(sa.select(Job.id).where(Job.state == "queued")).all()
    return [jobs.run_job(engine, open_blob_store(get_settings()), job_id) for job_id in queued]
