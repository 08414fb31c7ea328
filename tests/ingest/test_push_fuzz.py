"""The push API under hostile input, as hospital systems send it: schemathesis from its OpenAPI
operation, then the odd requests integrators really make (wrong keys, empty files, JSON bodies,
paths in filenames, GBK names, repeats). The promise: no 5xx, every refusal a Chinese JSON
``detail``, and a refused push leaves no row and no staged file behind.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import schemathesis
import sqlalchemy as sa
from fastapi.testclient import TestClient
from ingest_support import ADMISSION, pdf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from fuzz_helpers import CHINESE, changed_tables, fuzz, header, snapshot, strategies

from bingan.ingest.secrets import hash_api_key, new_api_key
from bingan.storage.models import CollectedItem, Source

SOURCE = "emr-push"
LIMIT = 200_000
# Per kind (~4 s for both databases); BINGAN_FUZZ_EXAMPLES=500 digs deeper locally.
EXAMPLES = int(os.environ.get("BINGAN_FUZZ_EXAMPLES", "15"))


@pytest.fixture
def app(pipe):
    from bingan.web.app import create_app

    return create_app(pipe.settings)


@pytest.fixture
def key(pipe) -> str:
    api_key = new_api_key()
    with pipe.tx() as session:
        session.add(Source(name=SOURCE, transport="http_push", api_key_hash=hash_api_key(api_key), max_bytes=LIMIT))
    return api_key


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


def fields(record: str, **changes: str) -> dict[str, str]:
    base = {"record_number": record, "stay": "1", "source_document_id": "P-1", "document_type": "C0201",
            "source_system": SOURCE}
    return {**base, **changes}


def orphans(pipe) -> list[str]:
    """Staged files no collected item points at: what a refused push must never leave."""
    with pipe.tx() as session:
        kept = set(session.scalars(sa.select(CollectedItem.staged_path)))
    return [str(path) for path in pipe.staging.glob("push-*") if str(path) not in kept]


def assert_refused(response, pipe, before: dict[str, str]) -> None:
    assert 400 <= response.status_code < 500, f"{response.status_code} {response.text}"
    assert header(response, "content-type").startswith("application/json"), response.text
    detail = response.json().get("detail")
    assert isinstance(detail, str) and CHINESE.search(detail), detail
    assert not changed_tables(before, pipe.engine), response.text
    assert not orphans(pipe)


def multipart(parts: list[tuple[bytes, bytes]], charset: str = "") -> tuple[bytes, dict[str, str]]:
    """A multipart body written byte by byte, as a client with its own encoder sends it."""
    body = b"".join(b"--b0undary\r\nContent-Disposition: form-data; " + disposition + b"\r\n\r\n" + value + b"\r\n"
                    for disposition, value in parts) + b"--b0undary--\r\n"
    kind = "multipart/form-data; boundary=b0undary" + (f"; charset={charset}" if charset else "")
    return body, {"Content-Type": kind}


def raw_push(client, key: str, record: str, file_disposition: bytes, *, charset: str = "", **changes: str):
    parts = [(f'name="{name}"'.encode(), value.encode()) for name, value in fields(record, **changes).items()]
    body, headers = multipart([*parts, (b'name="file"; ' + file_disposition, pdf(ADMISSION))], charset)
    return client.post("/api/v1/ingest", content=body, headers={**headers, "X-Api-Key": key})


def stored_filename(pipe, item_id: int) -> str:
    with pipe.tx() as session:
        return session.get(CollectedItem, item_id).filename


def test_generated_pushes_never_fail_the_server(pipe, app, key, record):
    schema = schemathesis.openapi.from_dict(app.openapi())  # the served copy needs a login
    schema.app = app
    operation = schema["/api/v1/ingest"]["POST"]

    def check(case) -> None:
        before = snapshot(pipe.engine)
        response = case.call(headers={"X-Api-Key": key})
        assert response.status_code < 500, f"{response.status_code} {response.text}"
        if response.status_code >= 400:
            assert_refused(response, pipe, before)
        assert not orphans(pipe)

    failures = []
    for kind, strategy in strategies(operation, {}):
        try:
            fuzz(strategy, check, EXAMPLES)
        except Exception as error:
            failures.append(f"{kind}: {type(error).__name__}: {error}"[:3000])
    assert not failures, "\n\n".join(failures)


def hostile_pushes(record: str, key: str) -> dict[str, dict]:
    """What integrators get wrong, each as keyword arguments of ``client.post``."""
    ok, files = pdf(ADMISSION), {"file": ("a.pdf", pdf(ADMISSION))}
    signed_in = {"X-Api-Key": key}
    form = {"data": fields(record), "files": files, "headers": signed_in}
    return {
        "no key": {**form, "headers": {}},
        "wrong key": {**form, "headers": {"X-Api-Key": "wrong"}},
        "GBK bytes as key": {**form, "headers": [(b"X-Api-Key", "密钥".encode("gbk"))]},
        "JSON body": {"json": fields(record), "headers": signed_in},
        "url-encoded body": {"data": fields(record), "headers": signed_in},
        "text body": {"content": ok, "headers": {**signed_in, "Content-Type": "text/plain"}},
        "no boundary": {"content": ok, "headers": {**signed_in, "Content-Type": "multipart/form-data"}},
        "empty file": {**form, "files": {"file": ("a.pdf", b"")}},
        "file over the limit": {**form, "files": {"file": ("a.pdf", b"0" * (LIMIT + 1))}},
        "no file": {**form, "files": {"other": ("a.pdf", ok)}},
        "NUL in a field": {**form, "data": fields(record, title="入院\x00记录")},
        "stay zero": {**form, "data": fields(record, stay="0")},
        "stay as text": {**form, "data": fields(record, stay="第一次")},
        "stay beyond the column": {**form, "data": fields(record, stay=str(2**31))},
        "record number too long": {**form, "data": fields(record, record_number="1" * 33)},
        "blank record number": {**form, "data": fields(record, record_number="   ")},
        "huge title": {**form, "data": fields(record, title="标" * 100_000)},
        "signed in year 1": {**form, "data": fields(record, signed_at="0001-01-01T00:00:00+08:00")},
        "signed at nonsense": {**form, "data": fields(record, signed_at="昨天下午")},
        "another source": {**form, "data": fields(record, source_system="lis")},
        "filename too long": {**form, "files": {"file": ("名" * 256 + ".pdf", ok)}},
    }


def test_hostile_pushes_are_refused_in_chinese_leaving_nothing_behind(pipe, client, key, record):
    failures = []
    for name, request in hostile_pushes(record, key).items():
        before = snapshot(pipe.engine)
        response = client.post("/api/v1/ingest", **request)
        try:
            assert_refused(response, pipe, before)
        except AssertionError as error:
            failures.append(f"{name}: {error}"[:1000])
    assert not failures, "\n".join(failures)
    assert not list(pipe.staging.glob("push-*"))


def test_path_parts_of_filenames_are_dropped(pipe, client, key, record):
    for number, (sent, kept) in enumerate([("../../etc/passwd", "passwd"), ("C:\\x\\y.pdf", "y.pdf"),
                                           ("..", "")]):
        response = client.post("/api/v1/ingest", data=fields(record, source_document_id=f"P-{number}"),
                               files={"file": (sent, pdf(ADMISSION))}, headers={"X-Api-Key": key})
        assert response.status_code == 202, response.text
        assert stored_filename(pipe, response.json()["item_id"]) == kept


def test_gbk_and_percent_encoded_filenames_are_read_as_chinese(pipe, client, key, record):
    sent = ['filename="入院记录.pdf"'.encode("gbk"), b'filename="%E5%85%A5%E9%99%A2%E8%AE%B0%E5%BD%95.pdf"',
            'filename="入院记录.pdf"'.encode()]
    for number, disposition in enumerate(sent):
        response = raw_push(client, key, record, disposition, source_document_id=f"G-{number}")
        assert response.status_code == 202, response.text
        assert stored_filename(pipe, response.json()["item_id"]) == "入院记录.pdf"


def test_fields_declared_as_gbk_are_read_as_gbk(pipe, client, key, record):
    parts = [(f'name="{name}"'.encode(), value.encode("gbk"))
             for name, value in fields(record, title="入院记录", author="陈明").items()]
    body, headers = multipart([*parts, (b'name="file"; filename="a.pdf"', pdf(ADMISSION))], charset="GBK")
    response = client.post("/api/v1/ingest", content=body, headers={**headers, "X-Api-Key": key})
    assert response.status_code == 202, response.text
    with pipe.tx() as session:
        item = session.get(CollectedItem, response.json()["item_id"])
        assert (item.title, item.author) == ("入院记录", "陈明")


def test_a_repeated_push_answers_the_first_item_and_stages_nothing_more(pipe, client, key, record):
    push = {"data": fields(record), "files": {"file": ("a.pdf", pdf(ADMISSION))}, "headers": {"X-Api-Key": key}}
    first = client.post("/api/v1/ingest", **push).json()
    again = client.post("/api/v1/ingest", **push).json()
    assert again == {**first, "duplicate": True}
    assert len(list(pipe.staging.glob("push-*"))) == 1 and not orphans(pipe)


def test_a_file_part_named_only_by_filename_star_is_explained(pipe, client, key, record):
    """RFC 7578 forbids filename*; Starlette then sees text, not a file (regression: "取值无效")."""
    response = raw_push(client, key, record, b"filename*=UTF-8''%E5%85%A5%E9%99%A2.pdf")
    assert response.status_code == 422
    assert "应为上传的文件" in response.json()["detail"]


def test_a_json_body_is_told_to_use_multipart(client, key, record):
    """Regression: a JSON body was answered with every field "missing"."""
    response = client.post("/api/v1/ingest", json=fields(record), headers={"X-Api-Key": key})
    assert response.status_code == 415 and "multipart/form-data" in response.json()["detail"]


def test_a_signing_time_out_of_utc_range_is_refused(client, key, record):
    """Regression: the year 1 at UTC+8 overflowed converting to UTC (a 500)."""
    response = client.post("/api/v1/ingest", data=fields(record, signed_at="0001-01-01T00:00:00+08:00"),
                           files={"file": ("a.pdf", pdf(ADMISSION))}, headers={"X-Api-Key": key})
    assert response.status_code == 422 and "签名时间格式无效" in response.json()["detail"]


def test_fields_beyond_their_columns_are_refused_before_staging(pipe, client, key, record):
    """Regression: on PostgreSQL an over-long author or a stay beyond 2³¹ failed at INSERT, and the
    staged file stayed behind."""
    for changes in ({"author": "陈" * 65}, {"stay": str(2**31)}, {"document_type": "C" * 101}):
        response = client.post("/api/v1/ingest", data=fields(record, **changes),
                               files={"file": ("a.pdf", pdf(ADMISSION))}, headers={"X-Api-Key": key})
        assert response.status_code == 422, response.text
    assert not list(pipe.staging.glob("push-*"))


def test_a_caller_without_a_key_is_refused_before_the_format_is_checked(client, record):
    """Regression: a keyless JSON body was answered 415, telling strangers how to push."""
    response = client.post("/api/v1/ingest", json=fields(record))
    assert response.status_code == 401 and "API 密钥" in response.json()["detail"]


@pytest.mark.parametrize(("api_key", "declared", "status"), [
    (None, "10737418240", 401), ("wrong", "10737418240", 401), ("valid", "10737418240", 413), ("valid", "12x", 400),
])
def test_a_push_is_refused_before_its_body_is_read(app, key, api_key, declared, status):
    """An anonymous or oversized 10 GB upload is answered at once: nothing of it is read or spooled."""
    import asyncio

    sent: list[dict] = []

    async def receive() -> dict:
        raise AssertionError("the body was read")

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"content-type", b"multipart/form-data; boundary=x"), (b"content-length", declared.encode())]
    if api_key:
        headers.append((b"x-api-key", (key if api_key == "valid" else api_key).encode()))
    scope = {"type": "http", "method": "POST", "path": "/api/v1/ingest", "raw_path": b"/api/v1/ingest",
             "query_string": b"", "headers": headers, "scheme": "http", "server": ("testserver", 80),
             "client": ("127.0.0.1", 1234), "http_version": "1.1", "root_path": "", "app": app}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == status
    assert CHINESE.search(sent[1]["body"].decode())
