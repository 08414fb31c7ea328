"""The record page's document-signature panel (文书电子签名) and its JSON: each signature's local
verdict beside its latest online check, in Chinese — 已联机验证（OCSP，时间）：有效 / 已吊销（…） /
未能联机验证（…）：原因；以本地验证结果为准."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bingan.access.audit import Actor
from bingan.records.ca_validation import service
from bingan.records.ca_validation.ocsp import Answer
from bingan.storage.db import session_factory
from bingan.storage.models import Version

pytestmark = pytest.mark.timeout(120)
LOCAL = {"verdict": "valid", "reason": "签名有效：文件自签名后未被修改，签名证书受信任", "signer": "李医生",
         "kind": "PDF ETSI.CAdES.detached", "signed_at": "2026-11-30T01:00:00+00:00"}


def _signed(web_engine, world, *answers: Answer) -> tuple[int, int]:
    """The world's normal record's first document, signed by 李医生, checked online with each answer in turn."""
    document = world.documents["normal"][0]
    with session_factory(web_engine)() as session, session.begin():
        version = session.get(Version, document.current_version_id)
        version.signatures = [LOCAL]
        for n, answer in enumerate(answers):
            service.store(session, Actor(None, "cli"), version, [service.Checked(
                0, "ocsp", answer, "1a2b", "李医生", "0" * 64, datetime(2026, 12, 7, 6, 30 + n, tzinfo=UTC))])
    return world.records["normal"].id, document.id


def test_the_record_page_loads_the_document_signature_panel(client_for, world):
    record_id = world.records["normal"].id
    assert f'hx-get="/records/{record_id}/document-signatures"' in client_for("archivist").get(
        f"/records/{record_id}").text


def test_the_panel_shows_the_local_and_the_latest_online_verdict(client_for, web_engine, world):
    record_id, _ = _signed(web_engine, world, Answer("good", "", "http://ocsp.ca.example/"), Answer(
        "revoked", "", "http://ocsp.ca.example/", revoked_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
        revocation_reason="keyCompromise"))
    panel = client_for("archivist").get(f"/records/{record_id}/document-signatures").text
    assert "李医生" in panel and "有效" in panel  # the local verdict
    assert "已联机验证（OCSP，2026-12-07 14:31）：已吊销（吊销时间 2026-12-01 10:00，原因：密钥泄露）" in panel
    assert "签名时间早于吊销时间" in panel  # signed 2026-11-30, revoked 2026-12-01
    assert "：有效</td>" not in panel  # the earlier good answer is history


def test_offline_the_panel_says_why_and_that_the_local_verdict_stands(client_for, web_engine, world):
    record_id, _ = _signed(web_engine, world, Answer("unreachable", "OCSP 服务在 3 秒内未应答（超时）"))
    panel = client_for("archivist").get(f"/records/{record_id}/document-signatures").text
    assert "未能联机验证（OCSP，2026-12-07 14:30）：OCSP 服务在 3 秒内未应答（超时）；以本地验证结果为准" in panel


def test_a_record_without_signed_documents_says_so(client_for, world):
    record_id = world.records["normal"].id
    panel = client_for("archivist").get(f"/records/{record_id}/document-signatures").text
    assert "本病案可查看的文书中没有电子签名" in panel


def test_the_json_gives_the_online_check_with_offsets(client_for, web_engine, world):
    record_id, document_id = _signed(web_engine, world, Answer("good", "", "http://ocsp.ca.example/"))
    body = client_for("archivist").get(f"/api/v1/records/{record_id}/document-signatures").json()
    [document] = body["documents"]
    [signature] = document["signatures"]
    assert document["document_id"] == document_id and signature["local"] == "有效"
    online = signature["online"]
    assert (online["status"], online["responder"], online["checked_at"]) == (
        "good", "http://ocsp.ca.example/", "2026-12-07T14:30:00+08:00")
    assert online["text"] == "已联机验证（OCSP，2026-12-07 14:30）：有效"
