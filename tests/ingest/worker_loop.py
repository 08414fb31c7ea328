"""A worker subprocess for the SIGKILL trials: the same step code the Celery task runs, in a loop."""
from __future__ import annotations

import time

import sqlalchemy as sa

from bingan.ingest.pipeline import Pipeline, process_item
from bingan.storage.models import CollectedItem


def main() -> None:
    pipe = Pipeline()
    while True:
        with pipe.tx() as session:
            ids = list(session.scalars(sa.select(CollectedItem.id).where(
                CollectedItem.state.in_(("pending", "fetched", "stored", "extracted"))).order_by(CollectedItem.id)))
        for item_id in ids:
            process_item(pipe, item_id)
        time.sleep(0.05)


if __name__ == "__main__":
    main()
