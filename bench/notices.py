"""Notice delivery benchmark: the time from an event to the peer's receiving it (target ≤ 5 s), through
the real path — the outbox row written in the event's transaction, the kick sent after its commit, a
Celery worker (separate process, embedded filesystem broker as installed by default, or Redis) that
delivers — against the bare send in the same run (``service.deliver`` called in-process right after
the commit: the HTTP exchange with the peer and the delivery row's update, no broker, no worker).

    .venv/bin/python bench/notices.py [--events 20] [--broker embedded|redis] [--redis redis://127.0.0.1:6379/15]

Peers: tests/peers/webhook.py (HMAC-signed JSON) and tests/peers/wecom.py (access token then
application message), served on loopback. Each event notifies one bound doctor on both channels;
the time is taken when the peer has recorded the message. SQLite in a temporary HOME.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _wait(states, counts: tuple[int, int], deadline: float) -> float:
    hook, wecom = states
    while time.perf_counter() < deadline:
        if len(hook.received) >= counts[0] and len(wecom.messages) >= counts[1]:
            return time.perf_counter()
        time.sleep(0.002)
    raise TimeoutError("通知在 60 秒内未送达")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--broker", choices=["embedded", "redis"], default="embedded")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    print("load average at start:", " ".join(f"{x:.1f}" for x in os.getloadavg()))
    with tempfile.TemporaryDirectory() as home:
        os.environ["BINGAN_HOME"] = home
        if args.broker == "redis":
            os.environ["BINGAN_BROKER_URL"] = args.redis
        run(home, args.events)


def run(home: str, events: int) -> None:
    from peers.emr import Served
    from peers.webhook import WebhookState
    from peers.webhook import make_app as webhook_app
    from peers.wecom import WeComState
    from peers.wecom import make_app as wecom_app

    from bingan import broker
    from bingan.access.audit import Actor
    from bingan.config import get_settings, reset_settings
    from bingan.records.notices import service
    from bingan.storage.db import get_engine, transaction
    from bingan.storage.migrate import upgrade
    from bingan.storage.models import User
    from bingan.storage.models.notices import NoticeDelivery

    reset_settings()
    broker.celery_app = broker.make_celery()
    settings = get_settings()
    engine = get_engine(settings)
    upgrade(engine)
    admin = Actor(None, "sysadmin", "127.0.0.1")
    hook, wecom = WebhookState(), WeComState()
    with Served(webhook_app(hook)) as hook_url, Served(wecom_app(wecom)) as wecom_url:
        with transaction(engine) as session:
            doctor = User(username="dr_li", full_name="李主任", staff_number="D0301")
            session.add(doctor)
            session.flush()
            service.save_channel(session, admin, "webhook", enabled=True, kinds=[], secret=hook.secret,
                                 values={"url": f"{hook_url}/hook"})
            service.save_channel(session, admin, "wecom", enabled=True, kinds=[], secret=wecom.corp_secret,
                                 values={"corp_id": wecom.corp_id, "agent_id": str(wecom.agent_id),
                                         "base_url": wecom_url})
            service.bind(session, Actor.of(doctor), doctor, "wecom", "LiZhuRen")
            doctor_id = doctor.id

        env = {**os.environ, "PYTHONPATH": str(ROOT), "BINGAN_DATABASE_URL":
               engine.url.render_as_string(hide_password=False)}
        worker = subprocess.Popen([sys.executable, "-c", "from bingan.cli import main; main()", "worker"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=home)
        try:
            # The worker is up when a first notice arrives (not timed).
            _event(engine, doctor_id, "预热")
            _wait((hook, wecom), (1, 1), time.perf_counter() + 120)
            bare: list[float] = []
            through: list[float] = []
            for n in range(events):
                # bare send: rows without a kick, delivered here right after the commit
                with transaction(engine) as session:
                    rows = [NoticeDelivery(channel=code, user_id=doctor_id, kind="return", title=f"直送 {n}",
                                           body="主诉与现病史不符", link="/qc/returned/1")
                            for code in ("webhook", "wecom")]
                    session.add_all(rows)
                    session.flush()
                    ids = [row.id for row in rows]
                start = time.perf_counter()
                for delivery_id in ids:
                    with transaction(engine) as session:
                        service.deliver(session, delivery_id)
                bare.append(time.perf_counter() - start)
                counts = (len(hook.received) + 1, len(wecom.messages) + 1)
                start = time.perf_counter()
                _event(engine, doctor_id, f"病案 {n} 质控退回")
                through.append(_wait((hook, wecom), counts, start + 60) - start)
        finally:
            worker.terminate()
            worker.wait(20)
    print(f"{events} events, each to the webhook and WeCom (both must arrive); SQLite; "
          f"broker {get_settings().resolved_broker_url.split(':')[0]}")
    for name, values in (("bare send (in-process deliver)", bare), ("event → peer received (worker)", through)):
        print(f"{name:34s} p50 {statistics.median(values) * 1000:8.1f} ms  p95 {p95(values) * 1000:8.1f} ms  "
              f"max {max(values) * 1000:8.1f} ms")
    print(f"ratio p50 event→received / bare send: {statistics.median(through) / statistics.median(bare):.1f}×")
    print("load average at end:", " ".join(f"{x:.1f}" for x in os.getloadavg()))


def _event(engine, doctor_id: int, title: str) -> None:
    """The event as a workflow raises it: the Notifier port inside the action's transaction."""
    from bingan.records.notices.service import OutboxNotifier
    from bingan.storage.db import transaction
    from bingan.storage.models import User

    with transaction(engine) as session:
        OutboxNotifier().notify(session, session.get(User, doctor_id), "return", title, "主诉与现病史不符",
                                "/qc/returned/1")


if __name__ == "__main__":
    main()
