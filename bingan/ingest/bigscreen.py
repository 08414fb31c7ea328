"""The big screen (大屏, D4): what the record room's wall shows, as one JSON document — services
up or down, reports collected per day (30 days), discharges against archived records (six
months), the anomalies of the last seven days. Counts and source names only: no patient's name
or number ever reaches it."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.clock import iso
from bingan.ingest.monitoring import ALERT_NAMES, overview, workers
from bingan.storage.models import CollectedItem, Record, Source
from bingan.storage.models.monitoring import MonitoringAlert

DAYS = 30
MONTHS = 6
ANOMALY_DAYS = 7


def bigscreen(session: Session, now: datetime) -> dict:
    today = clock.local_date(now)
    health = overview(session, now)
    collected = _per_day(session, today, DAYS, CollectedItem.created_at)
    failed = _per_day(session, today, ANOMALY_DAYS, CollectedItem.updated_at, CollectedItem.state == "failed")
    return {
        "generated_at": iso(now),
        "services": _services(session, health, now),
        "collected_per_day": collected,
        "months": _months(session, today),
        "anomalies": {"failed_per_day": failed, "alerts": _alerts(session, now)},
        "totals": {"sources": sum(row.source.enabled for row in health),
                   "sources_up": sum(row.source.enabled and row.status == "正常" for row in health),
                   "collected_today": collected[-1]["count"], "failed_waiting": sum(row.failed for row in health),
                   "in_pipeline": sum(row.waiting for row in health)},
    }


def _services(session: Session, health: list, now: datetime) -> list[dict]:
    rows = [{"name": row.source.title or row.source.name, "kind": "来源", "up": row.status == "正常",
             "status": row.status} for row in health if row.source.enabled]
    rows += [{"name": worker.name, "kind": "采集进程", "up": worker.alive,
              "status": "运行" if worker.alive else "无心跳"} for worker in workers(session, now)]
    return rows


def _per_day(session: Session, today: date, days: int, column: sa.ColumnElement,
             *conditions: sa.ColumnElement) -> list[dict]:
    """Local days, oldest first: one range of the column's index, counted by the hospital's day."""
    first = today - timedelta(days=days - 1)
    day = clock.sql_local_date(column, session.get_bind().dialect.name).label("day")
    counts = {str(key): count for key, count in session.execute(
        sa.select(day, sa.func.count()).select_from(CollectedItem)
        .where(column >= clock.day_start(first), column < clock.day_start(today + timedelta(days=1)), *conditions)
        .group_by(day))}
    shown = [(first + timedelta(days=n)).isoformat() for n in range(days)]
    return [{"day": day, "count": counts.get(day, 0)} for day in shown]


def _months(session: Session, today: date) -> list[dict]:
    """出院 against 已归档 (of those discharged in the month), the current month last."""
    first = date(today.year, today.month, 1)
    rows = []
    for back in range(MONTHS - 1, -1, -1):
        start = _add_months(first, -back)
        end = _add_months(start, 1)
        discharged, archived = session.execute(
            sa.select(sa.func.count(), sa.func.count(Record.archived_at)).where(
                Record.discharged_at >= clock.day_start(start), Record.discharged_at < clock.day_start(end))).one()
        rows.append({"month": start.strftime("%Y-%m"), "discharged": discharged, "archived": archived})
    return rows


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _alerts(session: Session, now: datetime) -> list[dict]:
    rows = session.execute(
        sa.select(MonitoringAlert, Source.title, Source.name).join(Source, Source.id == MonitoringAlert.source_id)
        .where(sa.or_(MonitoringAlert.opened_at >= now - timedelta(days=ANOMALY_DAYS),
                      MonitoringAlert.closed_at.is_(None)))
        .order_by(MonitoringAlert.opened_at.desc()).limit(50))
    return [{"source": title or name, "kind": ALERT_NAMES[alert.kind], "opened_at": iso(alert.opened_at),
             "closed_at": iso(alert.closed_at), "detail": alert.detail} for alert, title, name in rows]
