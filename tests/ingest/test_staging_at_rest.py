"""Files waiting in HOME/staging are patient data at rest: sealed with the blob store's cipher from
the moment they are written, decrypted only into private working copies, gone once their item is
stored; and the push API's item lookup refuses ids no column can hold (issue 9: M8, L9)."""
from __future__ import annotations

import os
import stat
import time

import pytest
from fastapi.testclient import TestClient
from ingest_support import ADMISSION, pdf

from bingan.ingest.pipeline import retry_items, run_until_settled
from bingan.ingest.secrets import hash_api_key, new_api_key
from bingan.ingest.staging import PLAIN_PREFIX, is_sealed, plaintext, secure_staging
from bingan.storage.models import CollectedItem, Source

SOURCE = "emr-push"


@pytest.fixture
def key(pipe) -> str:
    api_key = new_api_key()
    with pipe.tx() as session:
        session.add(Source(name=SOURCE, transport="http_push", api_key_hash=hash_api_key(api_key)))
    return api_key


@pytest.fixture
def client(pipe):
    from bingan.web.app import create_app

    with TestClient(create_app(pipe.settings)) as test_client:
        yield test_client


def push(client, key: str, record: str, data: bytes, document_id: str = "P-1") -> int:
    response = client.post("/api/v1/ingest", files={"file": ("入院记录.pdf", data)}, headers={"X-Api-Key": key},
                           data={"record_number": record, "stay": "1", "source_document_id": document_id,
                                 "document_type": "C0201"})
    assert response.status_code == 202, response.text
    return response.json()["item_id"]


def staged_path(pipe, item_id: int):
    with pipe.tx() as session:
        return session.get(CollectedItem, item_id).staged_path


def test_a_pushed_file_waits_sealed_never_in_plaintext(pipe, client, key, record):
    data = pdf(ADMISSION)
    item_id = push(client, key, record, data)
    [staged] = list(pipe.staging.iterdir())
    assert str(staged) == staged_path(pipe, item_id)
    assert is_sealed(staged) and data[:200] not in staged.read_bytes()
    with plaintext(staged, pipe.settings) as copy:
        assert copy.read_bytes() == data and stat.S_IMODE(copy.stat().st_mode) == 0o600


def test_a_stored_item_leaves_nothing_in_staging(pipe, client, key, record):
    item_id = push(client, key, record, pdf(ADMISSION))
    assert run_until_settled(pipe, [item_id], timeout=60)[item_id] == "indexed"
    assert list(pipe.staging.iterdir()) == []


def test_a_failed_item_keeps_its_file_sealed_for_a_retry(pipe, client, key, record):
    item_id = push(client, key, "9999999", pdf(ADMISSION))  # no such record yet
    assert run_until_settled(pipe, [item_id], timeout=60)[item_id] == "failed"
    assert [path.name for path in pipe.staging.iterdir()] == [os.path.basename(staged_path(pipe, item_id))]
    assert is_sealed(pipe.staging / os.path.basename(staged_path(pipe, item_id)))
    with pipe.tx() as session:
        session.get(CollectedItem, item_id).record_number = record
        retry_items(session, [item_id])
    assert run_until_settled(pipe, [item_id], timeout=60)[item_id] == "indexed"
    assert list(pipe.staging.iterdir()) == []


def test_start_up_seals_plaintext_staged_by_an_earlier_release(pipe, record):
    data = pdf(ADMISSION)
    legacy = pipe.staging / "push-legacy"
    legacy.write_bytes(data)
    secure_staging(pipe.settings)
    assert is_sealed(legacy) and data[:200] not in legacy.read_bytes()
    with plaintext(legacy, pipe.settings) as copy:
        assert copy.read_bytes() == data


def test_start_up_removes_working_copies_a_killed_worker_left(pipe):
    abandoned = pipe.staging / f"{PLAIN_PREFIX}abandoned"
    abandoned.write_bytes(b"%PDF- plaintext")
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(abandoned, (day_ago, day_ago))
    secure_staging(pipe.settings)
    assert not abandoned.exists()


def test_item_status_with_an_id_beyond_64_bits_is_refused_in_chinese(client, key):
    response = client.get(f"/api/v1/ingest/items/{2**64 + 1}", headers={"X-Api-Key": key})
    assert response.status_code == 422 and "路径参数 item_id" in response.json()["detail"]


def test_item_status_asks_for_the_key_before_looking_at_the_id(client):
    response = client.get(f"/api/v1/ingest/items/{2**64 + 1}")
    assert response.status_code == 401 and "API 密钥" in response.json()["detail"]
