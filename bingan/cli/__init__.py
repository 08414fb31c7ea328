"""The `bingan` command: one module per domain registers its sub-commands on the shared app."""
from bingan.cli import (  # noqa: F401  (imported for their command registrations)
    admin_cmds,
    ca_cmds,
    formats_cmds,
    ingest_cmds,
    signing_cmds,
    storage_blob_cmds,
    storage_cmds,
)
from bingan.cli.app import app


def main() -> None:
    app()
