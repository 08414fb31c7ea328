"""The kinds of request (申请种类) and their hooks. A workflow hands the engine a ``Kind``; one
explicit list (bingan/records/workflows.py) installs them at start-up, so the engine never
imports a workflow."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from bingan.errors import Refusal

if TYPE_CHECKING:
    from bingan.access.audit import Actor
    from bingan.storage.models import ApprovalRequest, Record, User

# Every kind the record room knows, by name; a kind without a registered workflow still has a
# default flow (defaults.py) that administrators can edit ahead of its workflow.
KIND_NAMES = {
    "borrow": "借阅", "renew": "续借", "seal": "封存", "unseal": "解封", "recall": "召回",
    "archive_qc": "归档质控", "copy": "复印", "destroy": "到期销毁",
}


def _nothing(*_args: object) -> None:
    return None


@dataclass(frozen=True)
class Kind:
    """``check_apply(session, applicant, record, payload)`` raises a Refusal to refuse an
    application; ``on_approved`` / ``on_rejected(session, request, actor)`` run in the
    transaction of the deciding action, so their effect exists exactly when the status says so."""

    code: str
    name: str
    check_apply: Callable[[Session, User, Record, dict], None] = _nothing
    on_approved: Callable[[Session, ApprovalRequest, Actor], None] = _nothing
    on_rejected: Callable[[Session, ApprovalRequest, Actor], None] = _nothing
    # The gate action an approver must be allowed on the record (scope, level, tags).
    gate_action: str = "view"
    # Applied for on a sealed record (解封): every other kind is refused once a record is sealed.
    on_sealed: bool = False


_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    _KINDS[kind.code] = kind


def unregister(code: str) -> None:
    _KINDS.pop(code, None)


def kind_of(code: str) -> Kind:
    kind = _KINDS.get(code)
    if kind is None:
        raise Refusal(f"申请种类“{kind_name(code)}”尚未启用")
    return kind


def kind_name(code: str) -> str:
    registered = _KINDS.get(code)
    return registered.name if registered else KIND_NAMES.get(code, code)


def known_kinds() -> dict[str, str]:
    """Code -> name of every kind a flow may be written for."""
    return {**KIND_NAMES, **{code: kind.name for code, kind in _KINDS.items()}}
