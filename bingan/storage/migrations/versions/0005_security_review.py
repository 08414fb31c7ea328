"""Security review (issue 9): session lifetimes, second-factor resets, keyed audit chain, index access outbox.

Revision ID: 0005
Revises: 0004
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _sessions()
    _audit()
    _index()


def _sessions() -> None:
    """Logins and the second factor."""


def _audit() -> None:
    """The audit chain."""


def _index() -> None:
    """The search index's access terms."""
