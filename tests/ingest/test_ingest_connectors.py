"""Each connector against a real peer: fake EMR (HTTP), pyftpdlib (FTP), spyne (SOAP), a folder, basic data."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from ingest_support import ADMISSION, count, pdf
from peers.emr import EmrState, make_app
from peers.ftp import FtpPeer
from peers.loopback import Served
from peers.soap import SoapPeer

from bingan.ingest.pipeline import run_until_settled
from bingan.ingest.runs import run_source
from bingan.ingest.secrets import hash_api_key, new_api_key, open_credentials, seal_credentials
from bingan.search.port import Scope
from bingan.storage.models import CollectedItem, Patient, Record, Source, SourceMapping, Version


def add_source(pipe, **fields) -> int:
    with pipe.tx() as session:
        source = Source(**fields)
        session.add(source)
        session.flush()
        return source.id


def settle(pipe) -> dict[int, str]:
    with pipe.tx() as session:
        ids = list(session.scalars(sa.select(CollectedItem.id)))
    return run_until_settled(pipe, ids, timeout=60)


def test_http_pull_follows_modification_rounds(pipe, record):
    emr = EmrState()
    with Served(make_app(emr)) as url:
        source_id = add_source(pipe, name="emr", kind="emr", transport="http_pull", endpoint=url,
                               credentials=seal_credentials(pipe.settings, {"token": "t0k"}))
        with pipe.tx() as session:
            dtype = session.scalar(sa.text("select id from document_types where code = 'C0201'"))
            session.add(SourceMapping(source_id=source_id, source_code="RY01", document_type_id=dtype))
        emr.put("D1", pdf(ADMISSION), record_number=record, stay=1, type="RY01", title="入院记录")
        for round_no in range(1, 4):
            assert run_source(pipe, source_id) == 1
            assert set(settle(pipe).values()) == {"indexed"}
            assert run_source(pipe, source_id) == 0  # nothing changed since the cursor
            emr.put("D1", pdf([[f"入院记录 第{round_no + 1}稿", "主诉：咳嗽。"]]))
    assert count(pipe, Version) == 3
    with pipe.tx() as session:
        assert session.get(Source, source_id).cursor == "3"
    assert pipe.index.search("第3稿", Scope.everything()).total == 1
    assert pipe.index.search("第2稿", Scope.everything()).total == 0


def test_ftp_pull_with_sidecar_metadata(pipe, record, tmp_path):
    root = tmp_path / "ftp"
    root.mkdir()
    (root / "lab.pdf").write_bytes(pdf([["检验报告", "白细胞计数 12.5↑"]]))
    (root / "lab.pdf.json").write_text(json.dumps({"id": "LIS-9", "record_number": record, "stay": 1,
                                                   "type": "检验报告"}), encoding="utf-8")
    with FtpPeer(root) as url:
        source_id = add_source(pipe, name="lis", kind="lis", transport="ftp", endpoint=url,
                               credentials=seal_credentials(pipe.settings, {"username": "emr", "password": "s3cret"}))
        assert run_source(pipe, source_id) == 1
        assert settle(pipe) and run_source(pipe, source_id) == 0
    assert pipe.index.search("白细胞计数", Scope.everything()).total == 1


def test_soap_pull_through_the_wsdl(pipe, record):
    emr = EmrState()
    emr.put("S1", pdf([["手术记录", "手术名称：腹腔镜下胆囊切除术"]]), record_number=record, stay=1, type="C1101")
    with SoapPeer(emr) as wsdl:
        source_id = add_source(pipe, name="his-soap", kind="his", transport="soap", endpoint=wsdl)
        assert run_source(pipe, source_id) == 1
        assert set(settle(pipe).values()) == {"indexed"}
    assert pipe.index.search("胆囊切除术", Scope.everything()).total == 1


def test_folder_moves_files_only_after_their_rows_commit(pipe, record, tmp_path):
    from bingan.ingest.connectors.folder import poll

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / f"{record}_1_C1401_OUT-1.pdf").write_bytes(pdf([["出院记录", "出院医嘱：低盐低脂饮食"]]))
    (inbox / "note.pdf").write_bytes(b"%PDF-1.4 no metadata")
    source_id = add_source(pipe, name="share", transport="folder", endpoint=str(inbox))
    with pipe.tx() as session:
        source = session.get(Source, source_id)
        session.expunge(source)
    assert len(poll(pipe, source, min_age=0)) == 1
    assert not (inbox / f"{record}_1_C1401_OUT-1.pdf").exists()
    assert (inbox / "done" / f"{record}_1_C1401_OUT-1.pdf").exists() and (inbox / "failed" / "note.pdf").exists()
    # A crash after the commit but before the move: the file is found again and only moved.
    (inbox / f"{record}_1_C1401_OUT-1.pdf").write_bytes((inbox / "done" / f"{record}_1_C1401_OUT-1.pdf").read_bytes())
    assert poll(pipe, source, min_age=0) == []
    assert count(pipe, CollectedItem) == 1 and set(settle(pipe).values()) == {"indexed"}


def test_basic_data_sync_creates_records_and_retries_waiting_items(pipe):
    emr = EmrState()
    emr.basic = {
        "departments": [{"KSDM": "XN", "KSMC": "心血管内科"}],
        "users": [{"username": "doc1", "full_name": "李医生", "department": "XN"}],
        "patients": [{"BAH": "0200001", "XM": "王芳", "SFZH": "11010519491231002X"}],
        "stays": [{"BAH": "0200001", "stay": 1, "admitted_at": "2025-03-01 09:30", "discharged_at": "2025-03-08 15:00",
                   "department": "XN", "diagnoses": [{"code": "I25.103", "name": "冠状动脉粥样硬化性心脏病"}],
                   "front_page": {"A48": "0200001", "B34C": "1"}}],
    }
    mapping = {"departments": {"code": "KSDM", "name": "KSMC"},
               "patients": {"record_number": "BAH", "name": "XM", "id_number": "SFZH"},
               "stays": {"record_number": "BAH"}}
    emr.put("E1", pdf([["入院记录", "主诉：胸闷"]]), record_number="0200001", stay=1, type="C0201")
    with Served(make_app(emr)) as url:
        pull = add_source(pipe, name="emr", transport="http_pull", endpoint=url)
        assert run_source(pipe, pull) == 1
        assert set(settle(pipe).values()) == {"failed"}  # the record is not known yet
        basic = add_source(pipe, name="his", transport="basic_data", endpoint=url, field_mapping=mapping)
        run_source(pipe, basic)
        assert set(settle(pipe).values()) == {"indexed"}
    with pipe.tx() as session:
        record = session.scalars(sa.select(Record).where(Record.record_number == "0200001")).one()
        assert record.diagnoses[0].code == "I25.103" and record.front_page["B34C"] == "1"
        assert record.discharge_department.name == "心血管内科"
        assert session.scalars(sa.select(Patient.sex).where(Patient.record_number == "0200001")).one() == "F"
    hits = pipe.index.search("胸闷", Scope.everything())
    assert hits.total == 1 and hits.records[0].department_name == "心血管内科"


def test_credentials_are_sealed_at_rest(pipe):
    sealed = seal_credentials(pipe.settings, {"password": "口令123"})
    assert "口令123" not in sealed and open_credentials(pipe.settings, sealed) == {"password": "口令123"}


@pytest.fixture
def push_client(pipe):
    from fastapi import FastAPI

    from bingan.web.errors import add_error_handlers
    from bingan.web.push.api import router

    app = FastAPI()
    app.include_router(router)
    add_error_handlers(app)  # a refused push (bingan.errors.Refusal) is answered there, as in the app
    key = new_api_key()
    add_source(pipe, name="emr-push", transport="http_push", api_key_hash=hash_api_key(key), max_bytes=200_000)
    return TestClient(app), key


def test_push_api_accepts_authenticated_files(pipe, record, push_client):
    client, key = push_client
    fields = {"record_number": record, "stay": "1", "source_document_id": "P-1", "document_type": "C0201",
              "source_system": "emr-push", "author": "陈明", "signed_at": "2025-03-02T10:00:00+08:00"}
    response = client.post("/api/v1/ingest", data=fields, files={"file": ("a.pdf", pdf(ADMISSION))},
                           headers={"X-Api-Key": key})
    assert response.status_code == 202, response.text
    item_id = response.json()["item_id"]
    assert response.json()["state"] == "fetched"
    assert run_until_settled(pipe, [item_id])[item_id] == "indexed"
    again = client.post("/api/v1/ingest", data=fields, files={"file": ("a.pdf", pdf(ADMISSION))},
                        headers={"X-Api-Key": key})
    assert again.json() == {"item_id": item_id, "state": "indexed", "duplicate": True}


def test_push_api_refuses_with_chinese_reasons(pipe, record, push_client):
    client, key = push_client
    fields = {"record_number": record, "stay": "1", "source_document_id": "P-1", "document_type": "C0201"}
    files = {"file": ("a.pdf", pdf(ADMISSION))}
    assert client.post("/api/v1/ingest", data=fields, files=files).json()["detail"].startswith("缺少 API 密钥")
    assert client.post("/api/v1/ingest", data=fields, files=files,
                       headers={"X-Api-Key": "wrong"}).json()["detail"] == "API 密钥无效"
    other = client.post("/api/v1/ingest", data={**fields, "source_system": "lis"}, files=files,
                        headers={"X-Api-Key": key})
    assert other.status_code == 403 and "不符" in other.json()["detail"]
    big = client.post("/api/v1/ingest", data=fields, files={"file": ("b.pdf", b"0" * 300_000)},
                      headers={"X-Api-Key": key})
    assert big.status_code == 413 and "大小上限" in big.json()["detail"]
    missing = client.post("/api/v1/ingest", data={"record_number": record}, files=files, headers={"X-Api-Key": key})
    assert missing.status_code == 422
    assert count(pipe, CollectedItem) == 0
    assert not list(pipe.staging.glob("push-*"))
