"""The record room's workflow permissions given to the built-in roles.

Revision ID: 0008
Revises: 0007
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

from bingan.storage.migrate import give_permissions, take_permissions


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


# A snapshot of what bingan.access.permissions.ROLE_DEFAULTS added at this revision.
GIVEN = {
    "sysadmin": ["calendar.manage"],
    "archivist": ["record.mark", "completeness.manage", "qc.review", "changes.review", "reports.view",
                  "borrow.manage", "recall.apply"],
    "qc": ["qc.review", "changes.review", "reports.view"],
    "clinician": ["record.submit", "record.mark", "recall.apply"],
    "medical_affairs": ["reports.view", "borrow.manage"],
}


def upgrade() -> None:
    give_permissions(op.get_bind(), GIVEN)


def downgrade() -> None:
    take_permissions(op.get_bind(), GIVEN)
