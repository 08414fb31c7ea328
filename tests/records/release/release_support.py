"""Applicants shared by copying's specifications (records and web): real GB 11643 numbers."""
from __future__ import annotations

PATIENT = {"type": "patient", "name": "王建国", "id_number": "11010519491231002X"}
AGENT = {"type": "agent", "name": "王小明", "id_number": "110105198001010016", "relation": "儿子"}
POLICE = {"type": "police", "name": "赵警官", "id_number": "110105198001010016", "organisation": "朝阳分局"}


def run_queued_jobs(engine) -> list[str]:
    """What the worker does with the queued jobs."""
    import sqlalchemy as sa

    from bingan.config import get_settings
    from bingan.records import jobs
    from bingan.storage.blobs.port import open_blob_store
    from bingan.storage.models.jobs import Job

    with engine.connect() as connection:
        queued = connection.scalars(sa.select(Job.id).where(Job.state == "queued")).all()
    return [jobs.run_job(engine, open_blob_store(get_settings()), job_id) for job_id in queued]
