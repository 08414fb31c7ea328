"""The stand-alone collector (单机采集, agent/) against a real Bingan: uvicorn in a subprocess on a
free port, the agent as the program a device PC runs, its queue read from its own SQLite."""
from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from ingest_support import pdf

from bingan.access.audit import Actor
from bingan.ingest import devices
from bingan.ingest.pipeline import run_until_settled
from bingan.storage.models import CollectedItem, Document, DocumentType
from bingan.storage.models.devices import DeviceUpload

ROOT = Path(__file__).resolve().parents[2]
AGENT_SOURCE = ROOT / "agent" / "src"
WAIT = 180.0  # a loaded CI machine starts the app slowly


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Bingan:
    """``uvicorn bingan.web.app:create_app`` on one port, killed and started again like a server."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "uvicorn", "bingan.web.app:create_app", "--factory", "--host", "127.0.0.1",
                   "--port", str(self.port), "--log-level", "warning"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL)
        deadline, last = time.monotonic() + WAIT, "no answer"
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "Bingan did not start"
            try:
                answer = httpx.get(f"{self.url}/healthz", timeout=10)
            except httpx.TransportError as error:
                last = repr(error)
                time.sleep(0.2)
                continue
            if answer.status_code == 200:
                return
            last = f"{answer.status_code} {answer.text}"
            time.sleep(0.2)
        raise AssertionError(f"Bingan did not answer /healthz: {last}")

    def kill(self) -> None:
        """No shutdown: requests in flight are cut, as when the server loses power."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def bingan(pipe):
    server = Bingan()
    server.start()
    yield server
    server.kill()


@pytest.fixture
def device(pipe, record):
    """An ECG cart registered with its own Ed25519 public key; its push key and private key."""
    private = ed25519.Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    with pipe.tx() as session:
        fallback = session.scalars(sa.select(DocumentType).order_by(DocumentType.id)).first()
        form = devices.DeviceForm(name="心电图机（3号车）", ip="127.0.0.1", document_type_id=fallback.id, kind="ecg",
                                  public_key=public.decode())
        row, key = devices.register(session, Actor(None, "测试"), "ecg-cart-03", form)
        session.flush()
        return {"id": row.id, "source_id": row.source_id, "key": key, "private": private, "fallback": fallback.id}


class Agent:
    """bingan-agent run, with its folder, configuration and queue in a temporary directory."""

    def __init__(self, home: Path, server: str, key: str, signing: str = "") -> None:
        self.home, self.reports = home, home / "reports"
        self.reports.mkdir(parents=True)
        self.config = home / "bingan-agent.toml"
        self.config.write_text(
            f'server = "{server}"\ndevice_key = "{key}"\nwatch = "reports"\nstate_dir = "state"\n'
            "poll_seconds = 0.1\nstable_seconds = 0.3\nmax_backoff_seconds = 0.2\n"
            "[[mapping]]\npattern = '^(?P<record_number>\\d+)_(?P<stay>\\d+)_(?P<category>[A-Z]+)'\n" + signing,
            encoding="utf-8")
        self.process: subprocess.Popen | None = None

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "bingan_agent", *args, "-c", str(self.config)]

    @property
    def env(self) -> dict[str, str]:
        return os.environ | {"PYTHONPATH": str(AGENT_SOURCE)}

    def start(self) -> None:
        self.process = subprocess.Popen(self.command("run"), env=self.env, stderr=subprocess.DEVNULL)

    def once(self) -> None:
        subprocess.run(self.command("run", "--once"), env=self.env, check=True, timeout=WAIT,
                       stderr=subprocess.DEVNULL)

    def power_cut(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def drop(self, name: str, content: bytes) -> None:
        partial = self.reports / f".{name}.part"
        partial.write_bytes(content)
        partial.rename(self.reports / name)

    def queue(self) -> list[tuple]:
        db = sqlite3.connect(self.home / "state" / "queue.sqlite3")
        try:
            return db.execute("SELECT id, sha256, state, last_error, attempts FROM reports ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # the agent is creating its queue
            return []
        finally:
            db.close()

    def wait_until(self, done, what: str) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if (self.home / "state" / "queue.sqlite3").exists() and done(self.queue()):
                return
            time.sleep(0.1)
        raise AssertionError(f"the agent did not {what}: {self.queue()}")


@pytest.fixture
def agent(pipe, tmp_path, bingan, device):
    """The agent on the device PC, its own key (made at first start) registered as the page does."""
    made = Agent(tmp_path / "device-pc", bingan.url, device["key"])
    shown = subprocess.run(made.command("key"), env=made.env, capture_output=True, text=True, check=True)
    with pipe.tx() as session:
        form = devices.DeviceForm(name="心电图机（3号车）", ip="127.0.0.1", document_type_id=device["fallback"],
                                  kind="ecg", public_key=shown.stdout)
        devices.update(session, Actor(None, "测试"), device["id"], form)
    yield made
    made.power_cut()


def _report(n: int) -> bytes:
    return pdf([[f"心电图报告 第{n}份", "窦性心律，心率 72 次/分。"]])


def _items(pipe, source_id: int) -> list[CollectedItem]:
    with pipe.tx() as session:
        items = session.scalars(sa.select(CollectedItem).where(CollectedItem.source_id == source_id)).all()
        session.expunge_all()
        return list(items)


def _all_sent(count: int):
    return lambda rows: len(rows) == count and all(row[2] == "sent" for row in rows)


def test_every_report_arrives_exactly_once_across_a_server_outage_and_a_power_cut(pipe, bingan, agent, device):
    agent.start()
    for n in range(12):
        agent.drop(f"0012345_1_ECG_{n:02d}.pdf", _report(n))
    agent.wait_until(lambda rows: any(row[2] == "sent" for row in rows), "send the first report")
    bingan.kill()  # mid-queue
    agent.wait_until(lambda rows: len(rows) == 12 and any(row[3] for row in rows), "meet the server gone")
    agent.power_cut()
    db = sqlite3.connect(agent.home / "state" / "queue.sqlite3")
    with db:  # the power cut came after Bingan answered, before the agent wrote "sent"
        db.execute("UPDATE reports SET state = 'sending' WHERE id = (SELECT min(id) FROM reports)")
    db.close()

    bingan.start()
    agent.start()
    agent.wait_until(_all_sent(12), "send every report after the restart")

    items = _items(pipe, device["source_id"])
    assert len(items) == 12 and len({item.sha256 or item.revision for item in items}) == 12
    assert {item.item_metadata["device"]["code"] for item in items} == {"ecg-cart-03"}
    settled = run_until_settled(pipe, [item.id for item in items])
    assert set(settled.values()) == {"indexed"}
    with pipe.tx() as session:
        documents = session.scalar(sa.select(sa.func.count()).select_from(Document)
                                   .where(Document.source_system == "ecg-cart-03"))
        resent = session.scalar(sa.select(sa.func.count()).select_from(DeviceUpload)
                                .where(DeviceUpload.outcome == "duplicate"))
    assert documents == 12
    assert resent >= 1  # the row left "sending" went again, with the same key, and was recognised


def test_the_same_content_under_another_name_is_not_sent_again(pipe, agent, device):
    agent.drop("0012345_1_ECG_a.pdf", _report(1))
    agent.once()
    agent.drop("0012345_1_ECG_copy.pdf", _report(1))
    agent.once()
    assert [row[2] for row in agent.queue()] == ["sent"]
    assert len(_items(pipe, device["source_id"])) == 1


def test_a_file_modified_after_sending_is_a_new_report(pipe, agent, device):
    agent.drop("0012345_1_ECG_01.pdf", _report(1))
    agent.once()
    (agent.reports / "0012345_1_ECG_01.pdf").write_bytes(_report(2))  # the device re-exports a corrected report
    agent.once()
    assert [row[2] for row in agent.queue()] == ["sent", "sent"]
    items = _items(pipe, device["source_id"])
    assert len(items) == 2 and items[0].revision != items[1].revision


def test_a_file_name_no_rule_maps_waits_unsent(pipe, agent, device):
    agent.drop("unknown-report.pdf", _report(1))
    agent.once()
    assert [row[2] for row in agent.queue()] == ["unmatched"]
    assert _items(pipe, device["source_id"]) == []


def _push(url: str, key: str, content: bytes, signature: str | None) -> httpx.Response:
    fields = {"record_number": "0012345", "stay": "1", "source_document_id": "forged-1", "document_type": "ECG"}
    headers = {"X-Api-Key": key} | ({"X-Device-Signature": signature} if signature else {})
    return httpx.post(f"{url}/api/v1/ingest", data=fields, files={"file": ("x.pdf", content)}, headers=headers,
                      timeout=30)


def _signature(private, content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()
    text = devices.signed_text(digest, "forged-1", "0012345", 1, "ECG")
    return base64.b64encode(private.sign(text)).decode()


def test_a_forged_signature_is_refused_in_chinese_and_logged(pipe, bingan, device):
    content = _report(1)
    another_key = ed25519.Ed25519PrivateKey.generate()
    forged = _push(bingan.url, device["key"], content, _signature(another_key, content))
    assert forged.status_code == 401 and forged.json()["detail"].startswith("设备签名无效")
    unsigned = _push(bingan.url, device["key"], content, None)
    assert unsigned.status_code == 401 and "缺少设备签名" in unsigned.json()["detail"]
    assert _items(pipe, device["source_id"]) == []
    with pipe.tx() as session:
        log = session.scalars(sa.select(DeviceUpload.outcome)).all()
    assert log == ["refused", "refused"]


def test_the_signature_covers_the_filing_not_only_the_file(pipe, bingan, device):
    """A signed upload replayed with another record number is refused: the metadata is signed too."""
    content = _report(1)
    signature = _signature(device["private"], content)
    fields = {"record_number": "0099999", "stay": "1", "source_document_id": "forged-1", "document_type": "ECG"}
    moved = httpx.post(f"{bingan.url}/api/v1/ingest", data=fields, files={"file": ("x.pdf", content)},
                       headers={"X-Api-Key": device["key"], "X-Device-Signature": signature}, timeout=30)
    assert moved.status_code == 401
    assert _push(bingan.url, device["key"], content, signature).status_code == 202


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A P-256 device certificate issued by a hospital CA."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ecg-cart-03")]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "某医院设备 CA")]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "device.crt", tmp_path / "device.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_a_device_with_a_hospital_certificate_signs_with_its_key(pipe, tmp_path, bingan, device):
    cert_path, key_path = _certificate(tmp_path)
    with pipe.tx() as session:
        form = devices.DeviceForm(name="心电图机（3号车）", ip="127.0.0.1", kind="ecg",
                                  certificate=cert_path.read_text())
        devices.update(session, Actor(None, "测试"), device["id"], form)
    signing = f'[signing]\ncertificate = "{cert_path}"\nkey = "{key_path}"\n'
    agent = Agent(tmp_path / "device-pc", bingan.url, device["key"], signing)
    agent.drop("0012345_1_ECG_01.pdf", _report(1))
    agent.once()
    assert [row[2] for row in agent.queue()] == ["sent"]
    [item] = _items(pipe, device["source_id"])
    assert item.item_metadata["device"]["signed_by"] == "certificate"
    shown = subprocess.run(agent.command("key"), env=agent.env, capture_output=True, text=True, check=True)
    assert shown.stdout == cert_path.read_text()


def test_the_agent_builds_into_one_zipapp_file(tmp_path, device):
    target = tmp_path / "bingan-agent.pyz"
    subprocess.run([sys.executable, "-m", "zipapp", str(AGENT_SOURCE), "-m", "bingan_agent.cli:main",
                    "-o", str(target)], check=True)
    agent = Agent(tmp_path / "device-pc", "http://127.0.0.1:9", device["key"])
    shown = subprocess.run([sys.executable, str(target), "key", "-c", str(agent.config)], capture_output=True,
                           text=True, check=True, env={"PATH": os.environ["PATH"]})
    public = serialization.load_pem_public_key(shown.stdout.encode())
    assert isinstance(public, ed25519.Ed25519PublicKey)


def test_the_agents_own_ed25519_signs_as_the_standard_does():
    """The agent signs in plain Python (no packages on the device PC): the same bytes as RFC 8032."""
    sys.path.insert(0, str(AGENT_SOURCE))
    try:
        from bingan_agent import ed25519 as plain
    finally:
        sys.path.remove(str(AGENT_SOURCE))
    for n in range(4):
        seed = hashlib.sha256(f"device {n}".encode()).digest()
        standard = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        message = f"bingan-device-upload/1\n{n}".encode()
        assert plain.public_key(seed) == standard.public_key().public_bytes(serialization.Encoding.Raw,
                                                                            serialization.PublicFormat.Raw)
        assert plain.sign(seed, message) == standard.sign(message)
