"""Collection monitoring (采集监控, D1–D3): what each source delivered, its failures and runs,
whether its server answers, our workers' heartbeats, and the alerts that tell the collection
operators once per episode.

Every minute the timed job ``watch_sources`` probes each enabled source with an address (HTTP(S)
GET, TCP connect for FTP and other hosts, the folder for a share) with a short timeout, keeps the
up/down history for ``KEEP_PROBES`` and opens or closes alert episodes: a source down for two
probes running, or failing far more than usual (the last hour's failures more than ``JUMP_FACTOR``
times its hourly rate of the last seven days, and at least ``JUMP_MIN_FAILURES``).

Counts are read through indexes (``ix_collected_items_created_source`` for what a window
collected, the state indexes for what failed or waits), so the pages stay quick with a million
collected items.
"""
from __future__ import annotations

import os
import socket
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.access.holders import users_holding
from bingan.clock import iso
from bingan.errors import NotFound, Refusal
from bingan.ingest.pipeline import retry_items
from bingan.records.approvals.notifier import notify
from bingan.storage.models import CollectedItem, CollectionRun, Source, utcnow
from bingan.storage.models.ingest import ACTIVE_ITEM_STATES
from bingan.storage.models.monitoring import MonitoringAlert, SourceProbe, WorkerHeartbeat

OPERATORS = "collection.monitor"  # whoever holds it is told of alerts
PROBE_EVERY = timedelta(seconds=55)  # the beat ticks more often; each source is probed once a minute
PROBE_TIMEOUT = 3.0
PROBE_THREADS = 16
DOWN_AFTER = 2  # probes failed in a row before a source counts as down (one lost packet is no outage)
KEEP_PROBES = timedelta(days=7)
CURRENT = timedelta(minutes=10)  # a probe older than this says nothing about now
WORKER_STALE = timedelta(minutes=3)
FORGET_WORKERS = timedelta(days=1)
JUMP_FACTOR = 3
JUMP_MIN_FAILURES = 5
WEEK = timedelta(days=7)
DEFAULT_PORTS = {"ftp": 21, "ftps": 21, "sftp": 22, "smb": 445, "http": 80, "https": 443}
SCHEMES = {*DEFAULT_PORTS, "tcp"}
CONVERTED = ("stored", "extracted", "indexed")  # the file is a PDF/OFD version in our store
ALERT_NAMES = {"down": "无法连接", "failures": "失败激增"}
WINDOWS = {"today": "今日", "7d": "近7天", "30d": "近30天"}


@dataclass(frozen=True)
class Probe:
    up: bool
    latency_ms: int
    detail: str = ""


# --------------------------------------------------------------------------- probing


def probe(transport: str, endpoint: str, timeout: float = PROBE_TIMEOUT) -> Probe | None:
    """Reachability of a source's server; None when it has nothing to probe (a push interface)."""
    endpoint = endpoint.strip()
    if not endpoint or transport in {"http_push", "manual"}:
        return None
    started = time.monotonic()
    scheme = urlsplit(endpoint).scheme.lower()
    scheme = scheme if scheme in SCHEMES else ""  # "host:port" parses as a scheme named after the host
    if transport == "folder" or (not scheme and endpoint.startswith(("/", "\\\\"))):
        up, detail = _folder(endpoint)
    elif scheme in {"http", "https"}:
        up, detail = _http(endpoint, timeout)
    else:
        up, detail = _tcp(endpoint, scheme, timeout)
    return Probe(up, int((time.monotonic() - started) * 1000), detail)


def _http(url: str, timeout: float) -> tuple[bool, str]:
    """Any answer below 500 means the server is there (a 401 or 404 is the peer speaking)."""
    try:
        # Reachability only: no credentials are sent, a hospital's self-signed certificate still answers,
        # and the hospital network is reached directly, not through a proxy of the environment.
        response = httpx.get(url, timeout=timeout, follow_redirects=False, verify=False, trust_env=False)
    except httpx.TimeoutException:
        return False, f"连接超时（{timeout:g} 秒）"
    except httpx.HTTPError as exc:
        return False, f"无法连接：{exc.__class__.__name__}"
    if response.status_code >= 500:
        return False, f"服务器错误 HTTP {response.status_code}"
    return True, f"HTTP {response.status_code}"


def _tcp(endpoint: str, scheme: str, timeout: float) -> tuple[bool, str]:
    parts = urlsplit(endpoint if scheme else f"tcp://{endpoint}")
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    if not parts.hostname or not port:
        return False, "地址无法识别（应为 主机:端口 或 ftp://主机:端口/目录）"
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True, f"端口 {port} 可连接"
    except TimeoutError:
        return False, f"连接超时（{timeout:g} 秒）"
    except OSError as exc:
        return False, f"端口 {port} 无法连接：{exc.strerror or exc.__class__.__name__}"


def _folder(path: str) -> tuple[bool, str]:
    if Path(path).is_dir() and os.access(path, os.R_OK):
        return True, "共享目录可读"
    return False, "共享目录不存在或不可读"


def watch_sources(session: Session, now: datetime) -> int:
    """The timed job (每分钟): probe the sources due, keep the history, open or close episodes.
    Returns how many sources were probed."""
    due = _due_for_probe(session, now)
    results = _probe_all(due)
    for source, result in zip(due, results, strict=True):
        if result is None:
            continue
        session.add(SourceProbe(source_id=source.id, checked_at=now, up=result.up, latency_ms=result.latency_ms,
                                detail=result.detail[:200]))
    session.flush()
    for source, result in zip(due, results, strict=True):
        if result is not None:
            _judge_reachability(session, source, now)
    _judge_failures(session, now)
    session.execute(sa.delete(SourceProbe).where(SourceProbe.checked_at < now - KEEP_PROBES))
    return sum(result is not None for result in results)


def _due_for_probe(session: Session, now: datetime) -> list[Source]:
    recent = sa.select(SourceProbe.source_id).where(SourceProbe.checked_at > now - PROBE_EVERY)
    return list(session.scalars(sa.select(Source).where(
        Source.enabled.is_(True), Source.endpoint != "", Source.id.not_in(recent)).order_by(Source.id)))


def _probe_all(sources: list[Source]) -> list[Probe | None]:
    """In parallel: fifty sources with a dead network still answer within a few timeouts."""
    if not sources:
        return []
    targets = [(source.transport, source.endpoint) for source in sources]
    with ThreadPoolExecutor(max_workers=min(PROBE_THREADS, len(targets))) as pool:
        return list(pool.map(lambda target: probe(*target), targets))


# --------------------------------------------------------------------------- alert episodes


def _judge_reachability(session: Session, source: Source, now: datetime) -> None:
    last = session.scalars(sa.select(SourceProbe).where(SourceProbe.source_id == source.id)
                           .order_by(SourceProbe.checked_at.desc(), SourceProbe.id.desc()).limit(DOWN_AFTER)).all()
    if last and last[0].up:
        _close(session, source, "down", now)
    elif len(last) == DOWN_AFTER and not any(found.up for found in last):
        _open(session, source, "down", now, last[0].detail)


def failures_since(session: Session, since: datetime) -> Counter[int]:
    """Failed items per source whose failure happened since ``since``."""
    return Counter(dict(session.execute(
        sa.select(CollectedItem.source_id, sa.func.count()).where(
            CollectedItem.state == "failed", CollectedItem.updated_at >= since).group_by(CollectedItem.source_id)
    ).all()))


def _judge_failures(session: Session, now: datetime) -> None:
    hour, week = failures_since(session, now - timedelta(hours=1)), failures_since(session, now - WEEK)
    hourly_rate = {source_id: count / (WEEK / timedelta(hours=1)) for source_id, count in week.items()}
    open_ids = set(session.scalars(sa.select(MonitoringAlert.source_id).where(
        MonitoringAlert.kind == "failures", MonitoringAlert.closed_at.is_(None))))
    for source_id in set(hour) | open_ids:
        source = session.get(Source, source_id)
        count = hour.get(source_id, 0)
        if count >= JUMP_MIN_FAILURES and count > JUMP_FACTOR * hourly_rate.get(source_id, 0):
            _open(session, source, "failures", now,
                  f"最近一小时失败 {count} 项，近七天平均每小时 {hourly_rate.get(source_id, 0):.1f} 项")
        else:
            _close(session, source, "failures", now)


def open_alert(session: Session, source_id: int, kind: str) -> MonitoringAlert | None:
    return session.scalars(sa.select(MonitoringAlert).where(
        MonitoringAlert.source_id == source_id, MonitoringAlert.kind == kind,
        MonitoringAlert.closed_at.is_(None))).first()


def _open(session: Session, source: Source, kind: str, now: datetime, detail: str) -> None:
    if open_alert(session, source.id, kind) is not None:
        return  # the episode goes on: its holders were told when it began
    session.add(MonitoringAlert(source_id=source.id, kind=kind, opened_at=now, detail=detail))
    _tell(session, source, f"采集告警：{_name(source)}{ALERT_NAMES[kind]}", detail)


def _close(session: Session, source: Source, kind: str, now: datetime) -> None:
    alert = open_alert(session, source.id, kind)
    if alert is None:
        return
    alert.closed_at = now
    _tell(session, source, f"采集恢复：{_name(source)}已恢复正常", f"{ALERT_NAMES[kind]}告警持续 "
          f"{_minutes(now - _aware(alert.opened_at, now))} 分钟")


def _tell(session: Session, source: Source, title: str, body: str) -> None:
    for user in users_holding(session, OPERATORS):
        notify(session, user, "collection", title, body, f"/monitoring/sources/{source.id}")


def _name(source: Source) -> str:
    return f"“{source.title or source.name}”"


def _minutes(span: timedelta) -> int:
    return max(1, round(span.total_seconds() / 60))


def _aware(moment: datetime, like: datetime) -> datetime:
    return moment.replace(tzinfo=like.tzinfo) if moment.tzinfo is None else moment


# --------------------------------------------------------------------------- worker heartbeats


def beat(session: Session, worker: str, now: datetime | None = None) -> None:
    """A collection worker is alive (its beat tick); workers silent for a day are forgotten."""
    now = now or utcnow()
    row = session.get(WorkerHeartbeat, worker[:64])
    if row is None:
        session.add(WorkerHeartbeat(worker=worker[:64], seen_at=now))
    else:
        row.seen_at = now
    session.execute(sa.delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < now - FORGET_WORKERS))


@dataclass(frozen=True)
class Worker:
    name: str
    seen_at: datetime
    alive: bool


def workers(session: Session, now: datetime) -> list[Worker]:
    return [Worker(row.worker, row.seen_at, _aware(row.seen_at, now) > now - WORKER_STALE)
            for row in session.scalars(sa.select(WorkerHeartbeat).order_by(WorkerHeartbeat.worker))]


# --------------------------------------------------------------------------- what the pages show


@dataclass
class Health:
    """One source on the overview: reachability, open alerts and what the window collected."""

    source: Source
    probe: SourceProbe | None = None
    alerts: list[MonitoringAlert] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # the window's items by state
    failed: int = 0  # failed items waiting for a retry, whenever they failed
    waiting: int = 0  # items still in the pipeline

    @property
    def expected(self) -> int:
        return sum(self.counts.values())

    @property
    def converted(self) -> int:
        return sum(self.counts[state] for state in CONVERTED)

    @property
    def uploaded(self) -> int:
        return self.counts["indexed"]

    @property
    def reachable(self) -> bool | None:
        """None: nothing to probe (push) or no recent probe."""
        return None if self.probe is None else self.probe.up

    @property
    def status(self) -> str:
        if not self.source.enabled:
            return "停用"
        if any(alert.kind == "down" for alert in self.alerts):
            return "中断"
        if self.alerts or self.reachable is False:
            return "异常"
        return "正常"

    def as_json(self) -> dict:
        probe = self.probe
        return {"id": self.source.id, "name": self.source.name, "title": self.source.title,
                "transport": self.source.transport, "enabled": self.source.enabled, "status": self.status,
                "reachable": self.reachable, "probe_detail": probe.detail if probe else "",
                "checked_at": iso(probe.checked_at) if probe else None,
                "last_run_at": iso(self.source.last_run_at), "last_error": self.source.last_error,
                "expected": self.expected, "converted": self.converted, "uploaded": self.uploaded,
                "failed": self.failed, "waiting": self.waiting,
                "alerts": [alert_json(alert) for alert in self.alerts]}


def alert_json(alert: MonitoringAlert) -> dict:
    return {"id": alert.id, "source_id": alert.source_id, "kind": alert.kind, "kind_name": ALERT_NAMES[alert.kind],
            "opened_at": iso(alert.opened_at), "closed_at": iso(alert.closed_at), "detail": alert.detail}


def window_start(window: str, now: datetime) -> datetime:
    if window not in WINDOWS:
        raise Refusal(f"统计范围应为：{'、'.join(WINDOWS.values())}")
    today = clock.local_date(now)
    days = {"today": 0, "7d": 6, "30d": 29}[window]
    return clock.day_start(today - timedelta(days=days))


def overview(session: Session, now: datetime, window: str = "today") -> list[Health]:
    """Every source, in a handful of indexed queries whatever the number of collected items."""
    since = window_start(window, now)
    rows = {source.id: Health(source) for source in session.scalars(sa.select(Source).order_by(Source.name))}
    source = _grouping_source()
    for source_id, state, count in session.execute(
            sa.select(source, CollectedItem.state, sa.func.count())
            .where(CollectedItem.created_at >= since).group_by(source, CollectedItem.state)):
        if source_id in rows:
            rows[source_id].counts[state] = count
    for source_id, state, count in _waiting_and_failed(session):
        if source_id in rows:
            _add_waiting(rows[source_id], state, count)
    for found in latest_probes(session, now).values():
        if found.source_id in rows:
            rows[found.source_id].probe = found
    for alert in session.scalars(sa.select(MonitoringAlert).where(MonitoringAlert.closed_at.is_(None))):
        if alert.source_id in rows:
            rows[alert.source_id].alerts.append(alert)
    return list(rows.values())


def _add_waiting(health: Health, state: str, count: int) -> None:
    if state == "failed":
        health.failed += count
    else:
        health.waiting += count


def _grouping_source() -> sa.ColumnElement[int]:
    """``source_id + 0``: grouped by this, SQLite's planner no longer walks the whole table through the
    source_id index for the GROUP BY's order, and takes the covering index of the WHERE (created_at or
    state) instead (bench/README.md: /monitoring 5.6 s → see there, 200 000 items)."""
    return (CollectedItem.source_id + 0).label("source_id")


def _waiting_and_failed(session: Session, source_id: int | None = None) -> list[tuple[int, str, int]]:
    source = _grouping_source()
    query = (sa.select(source, CollectedItem.state, sa.func.count())
             .where(CollectedItem.state.in_((*ACTIVE_ITEM_STATES, "failed")))
             .group_by(source, CollectedItem.state))
    if source_id is not None:
        query = query.where(CollectedItem.source_id == source_id)
    return list(session.execute(query).all())


def latest_probes(session: Session, now: datetime) -> dict[int, SourceProbe]:
    """Each source's newest probe of the last minutes (older ones say nothing about now)."""
    latest: dict[int, SourceProbe] = {}
    for found in session.scalars(sa.select(SourceProbe).where(SourceProbe.checked_at >= now - CURRENT)
                                 .order_by(SourceProbe.checked_at, SourceProbe.id)):
        latest[found.source_id] = found
    return latest


@dataclass(frozen=True)
class Reason:
    code: str
    reason: str
    count: int
    last_at: datetime | None


@dataclass(frozen=True)
class HourCell:
    """One hour of the up/down strip: probes that answered of those made."""

    start: datetime
    up: int
    total: int

    @property
    def state(self) -> str:
        if not self.total:
            return "none"
        return "up" if self.up == self.total else ("down" if self.up == 0 else "partial")


@dataclass
class SourceDetail:
    health: Health
    reasons: list[Reason]
    failed_items: list[CollectedItem]
    runs: list[CollectionRun]
    hours: list[HourCell]
    episodes: list[MonitoringAlert]

    def as_json(self, show_records: bool) -> dict:
        return {**self.health.as_json(),
                "failures": [{"code": r.code, "reason": r.reason, "count": r.count, "last_at": iso(r.last_at)}
                             for r in self.reasons],
                "failed_items": [item_json(item, show_records) for item in self.failed_items],
                "runs": [run_json(run) for run in self.runs],
                "uptime": [{"hour": iso(cell.start), "up": cell.up, "total": cell.total} for cell in self.hours],
                "episodes": [alert_json(alert) for alert in self.episodes]}


FAILED_SHOWN = 50
RUNS_SHOWN = 30
EPISODES_SHOWN = 30


def source_detail(session: Session, source_id: int, now: datetime, window: str = "today") -> SourceDetail:
    source = session.get(Source, source_id)
    if source is None:
        raise NotFound("采集来源不存在")
    health = Health(source, counts=_window_counts(session, source_id, window_start(window, now)))
    for _source_id, state, count in _waiting_and_failed(session, source_id):
        _add_waiting(health, state, count)
    health.probe = latest_probes(session, now).get(source_id)
    health.alerts = list(session.scalars(sa.select(MonitoringAlert).where(
        MonitoringAlert.source_id == source_id, MonitoringAlert.closed_at.is_(None))))
    return SourceDetail(health, failure_reasons(session, source_id), _failed_items(session, source_id),
                        _runs(session, source_id), uptime_hours(session, source_id, now), _episodes(session, source_id))


def _window_counts(session: Session, source_id: int, since: datetime) -> Counter[str]:
    return Counter(dict(session.execute(
        sa.select(CollectedItem.state, sa.func.count())
        .where(CollectedItem.created_at >= since, CollectedItem.source_id == source_id)
        .group_by(CollectedItem.state)).all()))


def failure_reasons(session: Session, source_id: int) -> list[Reason]:
    rows = session.execute(
        sa.select(CollectedItem.failure_code, sa.func.max(CollectedItem.failure_reason), sa.func.count(),
                  sa.func.max(CollectedItem.updated_at))
        .where(CollectedItem.source_id == source_id, CollectedItem.state == "failed")
        .group_by(CollectedItem.failure_code).order_by(sa.func.count().desc()))
    return [Reason(code, reason or "", count, last) for code, reason, count, last in rows]


def _failed_items(session: Session, source_id: int) -> list[CollectedItem]:
    return list(session.scalars(
        sa.select(CollectedItem).where(CollectedItem.source_id == source_id, CollectedItem.state == "failed")
        .order_by(CollectedItem.id.desc()).limit(FAILED_SHOWN)))


def _runs(session: Session, source_id: int) -> list[CollectionRun]:
    return list(session.scalars(sa.select(CollectionRun).where(CollectionRun.source_id == source_id)
                                .order_by(CollectionRun.started_at.desc()).limit(RUNS_SHOWN)))


def _episodes(session: Session, source_id: int) -> list[MonitoringAlert]:
    return list(session.scalars(sa.select(MonitoringAlert).where(MonitoringAlert.source_id == source_id)
                                .order_by(MonitoringAlert.opened_at.desc()).limit(EPISODES_SHOWN)))


def uptime_hours(session: Session, source_id: int, now: datetime, hours: int = 24) -> list[HourCell]:
    """The last ``hours`` hours of probes, hour by hour (the up/down strip)."""
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    tally: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for checked, up in session.execute(sa.select(SourceProbe.checked_at, SourceProbe.up).where(
            SourceProbe.source_id == source_id, SourceProbe.checked_at >= first)):
        slot = int((_aware(checked, now) - first).total_seconds() // 3600)
        tally[slot][0] += int(up)
        tally[slot][1] += 1
    return [HourCell(first + timedelta(hours=slot), *tally.get(slot, (0, 0))) for slot in range(hours)]


def run_seconds(run: CollectionRun) -> float | None:
    if run.finished_at is None:
        return None
    return (_aware(run.finished_at, run.started_at) - run.started_at).total_seconds()


def run_json(run: CollectionRun) -> dict:
    return {"id": run.id, "state": run.state, "started_at": iso(run.started_at), "finished_at": iso(run.finished_at),
            "seconds": run_seconds(run), "items_seen": run.items_seen, "items_new": run.items_new,
            "error": run.error}


def item_json(item: CollectedItem, show_records: bool) -> dict:
    """A failed item; the record number only for users who may read records (三员分立)."""
    return {"id": item.id, "source_document_id": item.source_document_id, "title": item.title,
            "document_type_code": item.document_type_code, "failure_code": item.failure_code,
            "failure_reason": item.failure_reason, "failed_at": iso(item.updated_at),
            "record_number": item.record_number if show_records else None,
            "stay": item.stay if show_records else None}


# --------------------------------------------------------------------------- retry


def retry(session: Session, actor: Actor, source_id: int, *, item_id: int | None = None,
          failure_code: str | None = None) -> int:
    """重试: one failed item, or every failed item of the source with a reason; the sweeper sends
    them to the workers within one sweep interval. Returns how many went back to the queue."""
    source = session.get(Source, source_id)
    if source is None:
        raise NotFound("采集来源不存在")
    query = sa.select(CollectedItem.id).where(CollectedItem.source_id == source_id, CollectedItem.state == "failed")
    if item_id is not None:
        query = query.where(CollectedItem.id == item_id)
    elif failure_code is not None:
        query = query.where(CollectedItem.failure_code == failure_code)
    else:
        raise Refusal("请选择要重试的采集项或失败原因")
    ids = list(session.scalars(query))
    if not ids:
        raise Refusal("没有可重试的失败项：可能已被重试或已成功")
    retried = retry_items(session, ids)
    record_event(session, actor, "collection.retry", object_type="source", object_id=source_id,
                 detail={"来源": source.name, "采集项": item_id, "失败原因": failure_code, "数量": len(retried)})
    return len(retried)
