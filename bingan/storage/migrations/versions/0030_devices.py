"""Stand-alone collectors (单机采集, issue 17 item 7): devices linked to their push source, with
their public key or certificate, and each device's collection log.

Revision ID: 0030
Revises: 0029
"""
from alembic import op
import sqlalchemy as sa


revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

NOW = {"nullable": False}
WHEN = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, **kwargs) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}", **kwargs)


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_id", sa.Integer(), _fk("devices", "source_id", "sources", ondelete="CASCADE"), **NOW),
        sa.Column("ip", sa.String(45), **NOW),
        sa.Column("department_id", sa.Integer(), _fk("devices", "department_id", "departments")),
        sa.Column("public_key", sa.Text(), **NOW), sa.Column("certificate", sa.Text(), **NOW),
        sa.Column("last_seen_at", WHEN), sa.Column("last_ip", sa.String(45), **NOW),
        sa.Column("created_at", WHEN, **NOW), sa.Column("updated_at", WHEN, **NOW),
        sa.UniqueConstraint("source_id", name="uq_devices_source_id"),
    )
    op.create_index("ix_devices_ip", "devices", ["ip"])
    op.create_table(
        "device_uploads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("device_id", sa.Integer(), _fk("device_uploads", "device_id", "devices", ondelete="CASCADE"),
                  **NOW),
        sa.Column("at", WHEN, **NOW), sa.Column("ip", sa.String(45), **NOW),
        sa.Column("filename", sa.String(255), **NOW), sa.Column("record_number", sa.String(32), **NOW),
        sa.Column("stay", sa.Integer(), **NOW), sa.Column("sha256", sa.String(64), **NOW),
        sa.Column("outcome", sa.String(16), **NOW), sa.Column("reason", sa.Text(), **NOW),
        sa.Column("item_id", sa.Integer(),
                  _fk("device_uploads", "item_id", "collected_items", ondelete="SET NULL")),
    )
    op.create_index("ix_device_uploads_device_at", "device_uploads", ["device_id", "at"])
    op.create_index("ix_device_uploads_ip_at", "device_uploads", ["ip", "at"])


def downgrade() -> None:
    op.drop_table("device_uploads")
    op.drop_table("devices")
