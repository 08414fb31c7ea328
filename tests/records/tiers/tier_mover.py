"""Child process of the SIGKILL test: one tier move with small batches (many commits to land in);
it prints a line after each batch so the test can kill it part-way, however fast the disk."""
import sys

from bingan.config import get_settings
from bingan.records.tiers.service import move_due
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.db import get_engine, session_factory
from bingan.storage.models import utcnow

settings = get_settings()
store = open_blob_store(settings)
with session_factory(get_engine(settings))() as session:
    print("ready", flush=True)
    result = move_due(session, store, utcnow(), years=int(sys.argv[1]), batch=int(sys.argv[2]),
                      progress=lambda done, total: print("batch", done, total, flush=True))
print("done", len(result.moved), flush=True)
