"""The one list of workflows whose kinds the approval engine runs; installed at start-up (web app,
worker). The engine itself imports no workflow."""
from __future__ import annotations

import bingan.records.approvals.engine  # noqa: F401  (cancels open requests when a record is sealed)
from bingan.records.approvals.kinds import Kind, register
from bingan.records.borrowing.kind import BORROW

INSTALLED: tuple[Kind, ...] = (BORROW,)


def install() -> None:
    for kind in INSTALLED:
        register(kind)
