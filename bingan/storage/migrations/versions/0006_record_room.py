"""The record room's groundwork and the search a clinician means: record life cycle, approval flows,
to-dos and messages, search dictionaries, reading tools.

Revision ID: 0006
Revises: 0005
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _lifecycle()
    _approvals()
    _search()
    _reading()


def _lifecycle() -> None:
    """The record life cycle."""


def _approvals() -> None:
    """Approval flows, requests, to-dos and messages."""


def _search() -> None:
    """Search dictionaries."""


def _reading() -> None:
    """Favourites, tags and the user's own reading tools."""
