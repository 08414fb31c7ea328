"""`bingan verify` and crash safety: blobs are fsynced before the rows that point at them commit."""
from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine

from bingan.config import get_settings
from bingan.storage.blobs.port import Placement, open_blob_store
from bingan.storage.db import session_factory
from bingan.storage.models import Document, DocumentType, Patient, Record, Version
from bingan.storage.verify import collect, verify

BIN = Path(sys.executable).parent / "bingan"


def _document(engine: Engine) -> int:
    with session_factory(engine)() as session, session.begin():
        patient = Patient(record_number="0099001", name="王五")
        record = Record(patient=patient, record_number="0099001", stay_number=1)
        doc_type = session.scalars(sa.select(DocumentType).where(DocumentType.name == "出院记录")).one()
        document = Document(record=record, document_type=doc_type, source_system="EMR", source_document_id="X")
        session.add(document)
        session.flush()
        return document.id


def _store_version(engine: Engine, document_id: int, content: bytes, number: int = 1) -> str:
    store = open_blob_store(get_settings())
    info = store.put(io.BytesIO(content), Placement("main", "0099001", 1, date(2026, 3, 8), "出院记录.pdf"))
    with session_factory(engine)() as session, session.begin():
        version = Version(document_id=document_id, number=number, sha256=info.sha256, size=info.size)
        session.add(version)
        session.flush()
        session.get(Document, document_id).current_version_id = version.id
    return info.sha256


def _report(engine: Engine):
    with session_factory(engine)() as session:
        return verify(session, open_blob_store(get_settings()))


def _blob_file(sha: str) -> Path:
    matches = [p for p in get_settings().resolved_home.rglob(f"{sha}*") if p.suffix == ".blob"]
    assert matches, sha
    return matches[0]


def test_a_consistent_archive_verifies_clean(engine):
    _store_version(engine, _document(engine), b"discharge summary" * 1000)
    report = _report(engine)
    assert report.ok, report
    assert report.blobs_checked == 1


def test_a_deleted_blob_is_reported_missing(engine):
    sha = _store_version(engine, _document(engine), b"page" * 5000)
    open_blob_store(get_settings()).delete(sha)
    report = _report(engine)
    assert report.missing == [sha]
    assert not report.ok


def test_a_flipped_byte_is_reported_corrupt(engine):
    sha = _store_version(engine, _document(engine), os.urandom(200_000))
    path = _blob_file(sha)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    report = _report(engine)
    assert [line.split(":")[0] for line in report.corrupt] == [sha]


def test_a_blob_without_a_row_is_a_collectable_orphan(engine):
    _document(engine)
    info = open_blob_store(get_settings()).put(
        io.BytesIO(b"orphan"), Placement("main", "0099001", 1, date(2026, 3, 8), "x.pdf")
    )
    report = _report(engine)
    assert report.orphans == [info.sha256]
    assert report.only_collectable and not report.ok


def test_collect_keeps_orphans_younger_than_the_grace_period(engine):
    _document(engine)
    store = open_blob_store(get_settings())
    info = store.put(io.BytesIO(b"fresh"), Placement("main", "0099001", 1, date(2026, 3, 8), "x.pdf"))
    collect(store, _report(engine), min_age_seconds=3600)
    assert store.exists(info.sha256)


def test_a_document_with_versions_but_no_current_version_is_dangling(engine):
    document_id = _document(engine)
    _store_version(engine, document_id, b"content")
    with session_factory(engine)() as session, session.begin():
        session.get(Document, document_id).current_version_id = None
    assert any("没有当前版本" in line for line in _report(engine).dangling)


def test_verify_command_exits_non_zero_on_a_problem(engine, monkeypatch):
    sha = _store_version(engine, _document(engine), b"abc" * 100)
    env = os.environ | {"BINGAN_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    ok = subprocess.run([BIN, "verify"], env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    open_blob_store(get_settings()).delete(sha)
    bad = subprocess.run([BIN, "verify"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert "缺失" in bad.stdout


WRITER = textwrap.dedent(
    """
    import io, os, sys
    from datetime import date
    from bingan.config import get_settings
    from bingan.storage.blobs.port import Placement, open_blob_store
    from bingan.storage.db import get_engine, session_factory
    from bingan.storage.models import Document, Version

    document_id, start = int(sys.argv[1]), int(sys.argv[2])
    store = open_blob_store(get_settings())
    engine = get_engine()
    print("ready", flush=True)
    for number in range(start, start + 10_000):
        data = os.urandom(1024) * (number % 300 + 1)
        info = store.put(io.BytesIO(data), Placement("main", "0099001", 1, date(2026, 3, 8), f"{number}.pdf"))
        with session_factory(engine)() as session, session.begin():
            version = Version(document_id=document_id, number=number, sha256=info.sha256, size=info.size)
            session.add(version)
            session.flush()
            session.get(Document, document_id).current_version_id = version.id
        print("committed", number, flush=True)
    """
)


def test_sigkill_while_writing_leaves_only_collectable_orphans(engine, tmp_path):
    document_id = _document(engine)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = os.environ | {"BINGAN_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    rng = random.Random(20261127)
    start = 1
    for _trial in range(8):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(document_id), str(start)],
            env=env, stdout=subprocess.PIPE, text=True,
        )
        assert proc.stdout.readline().strip() == "ready"
        # After its first commit (however long a busy machine takes to get there), at a random
        # moment of the writes that follow: a put half done, a row not yet committed, between both.
        assert proc.stdout.readline().startswith("committed")
        time.sleep(rng.uniform(0.0, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        report = _report(engine)
        assert report.only_collectable, report
        with session_factory(engine)() as session:
            start = (session.scalar(sa.select(sa.func.max(Version.number))) or 0) + 1
    assert start > 1, "the writer never committed a version"


def test_collect_removes_orphans_past_the_grace_period(engine):
    _document(engine)
    store = open_blob_store(get_settings())
    info = store.put(io.BytesIO(b"old orphan"), Placement("main", "0099001", 1, date(2026, 3, 8), "x.pdf"))
    assert collect(store, _report(engine), min_age_seconds=0) == 1
    assert not store.exists(info.sha256)
    assert _report(engine).ok


def test_verify_command_reports_an_edited_audit_event(engine):
    from bingan.access.audit import Actor, record_event
    from bingan.storage.models import AuditEvent

    with session_factory(engine)() as session, session.begin():
        for action in ("login", "view", "download"):
            record_event(session, Actor(1, "zhangsan", "10.0.0.8"), action, record_id=7)
    env = os.environ | {"BINGAN_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    assert subprocess.run([BIN, "verify"], env=env, capture_output=True, timeout=120).returncode == 0
    with session_factory(engine)() as session, session.begin():
        session.execute(sa.update(AuditEvent).where(AuditEvent.action == "view").values(username="lisi"))
    done = subprocess.run([BIN, "verify"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "审计事件" in done.stdout
