"""Commands: formats_cmds."""
from bingan.cli.app import app  # noqa: F401
