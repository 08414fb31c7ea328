"""A worker subprocess for the historical-import SIGKILL test: runs one background job the way the
Celery task does (the same ``run_job``), with the job kinds the worker installs."""
from __future__ import annotations

import sys

from bingan.config import get_settings
from bingan.ingest.historical import HISTORICAL_IMPORT
from bingan.records.jobs import register, run_job
from bingan.records.workflows import install
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.db import get_engine


def main(job_id: int) -> None:
    install()
    register(HISTORICAL_IMPORT)
    settings = get_settings()
    print(run_job(get_engine(settings), open_blob_store(settings), job_id), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
