"""Collection monitoring (issue 17, D1–D4): source reachability history, alert episodes, worker
heartbeats, once-per-record QC overdue notices, the expiry reminder of temporary grants; indexes behind the monitoring pages' counts;
collection.monitor and bigscreen.view given to the record room and the system administrator.

Revision ID: 0027
Revises: 0026
"""
from alembic import op
import sqlalchemy as sa

from bingan.storage.migrate import give_permissions, take_permissions


revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

NOW = {"nullable": False}
WHEN = sa.DateTime(timezone=True)

# A snapshot of what bingan.access.permissions.ROLE_DEFAULTS added at this revision.
GIVEN = {"archivist": ["collection.monitor", "bigscreen.view"], "sysadmin": ["collection.monitor", "bigscreen.view"]}


def _fk(table: str, column: str, target: str, **kwargs) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}", **kwargs)


def upgrade() -> None:
    op.create_table(
        "source_probes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_id", sa.Integer(), _fk("source_probes", "source_id", "sources", ondelete="CASCADE"), **NOW),
        sa.Column("checked_at", WHEN, **NOW), sa.Column("up", sa.Boolean(), **NOW),
        sa.Column("latency_ms", sa.Integer(), **NOW), sa.Column("detail", sa.String(200), **NOW),
    )
    op.create_index("ix_source_probes_source_checked", "source_probes", ["source_id", "checked_at"])
    op.create_index("ix_source_probes_checked_at", "source_probes", ["checked_at"])
    op.create_table(
        "monitoring_alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_id", sa.Integer(), _fk("monitoring_alerts", "source_id", "sources", ondelete="CASCADE"),
                  **NOW),
        sa.Column("kind", sa.String(16), **NOW), sa.Column("opened_at", WHEN, **NOW), sa.Column("closed_at", WHEN),
        sa.Column("detail", sa.Text(), **NOW),
    )
    op.create_index("ix_monitoring_alerts_source_kind", "monitoring_alerts", ["source_id", "kind", "closed_at"])
    op.create_index("ix_monitoring_alerts_opened_at", "monitoring_alerts", ["opened_at"])
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker", sa.String(64), primary_key=True), sa.Column("seen_at", WHEN, **NOW),
    )
    op.create_table(
        "qc_overdue_notices",
        sa.Column("record_id", sa.Integer(), _fk("qc_overdue_notices", "record_id", "records", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("notified_at", WHEN, **NOW),
    )
    op.add_column("grants", sa.Column("expiry_reminded_at", WHEN))
    op.create_index("ix_collected_items_created_source", "collected_items", ["created_at", "source_id", "state"])
    op.create_index("ix_collected_items_state_updated", "collected_items", ["state", "updated_at", "source_id"])
    give_permissions(op.get_bind(), GIVEN)


def downgrade() -> None:
    take_permissions(op.get_bind(), GIVEN)
    op.drop_index("ix_collected_items_state_updated", table_name="collected_items")
    op.drop_index("ix_collected_items_created_source", table_name="collected_items")
    op.drop_column("grants", "expiry_reminded_at")
    op.drop_table("qc_overdue_notices")
    op.drop_table("worker_heartbeats")
    op.drop_index("ix_monitoring_alerts_opened_at", table_name="monitoring_alerts")
    op.drop_index("ix_monitoring_alerts_source_kind", table_name="monitoring_alerts")
    op.drop_table("monitoring_alerts")
    op.drop_index("ix_source_probes_checked_at", table_name="source_probes")
    op.drop_index("ix_source_probes_source_checked", table_name="source_probes")
    op.drop_table("source_probes")
