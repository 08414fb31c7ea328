"""Stand-alone collectors (单机采集, B1–B3, R4): devices registered with their push source, key
and public key or certificate; each upload verified against the device's signature and written
to its collection log (采集日志).

A device pushes through ``POST /api/v1/ingest`` like any push source, adding the header
``X-Device-Signature``: the base64 signature, by the device's private key, of ``signed_text``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.clock import iso
from bingan.errors import NotFound, Refusal
from bingan.ingest.items import Report
from bingan.ingest.push import PushRefused
from bingan.ingest.secrets import hash_api_key, new_api_key
from bingan.records.patients import parse_time
from bingan.storage.db import get_engine, transaction
from bingan.storage.models import Department, DocumentType, Source, utcnow
from bingan.storage.models.devices import Device, DeviceUpload

SIGNATURE_HEADER = "X-Device-Signature"
SIGNED_PREFIX = "bingan-device-upload/1"
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,47}$")
DEVICE_KINDS = {"ecg": "心电图机", "other": "其他设备（骨密度仪、肺功能仪等）"}
OUTCOME_NAMES = {"accepted": "已接收", "duplicate": "重复（已采集过）", "refused": "已拒绝"}
LOG_LIMIT = 500
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def signed_text(sha256: str, source_document_id: str, record_number: str, stay: int, document_type: str) -> bytes:
    """What a device signs for one upload: the file's SHA-256 and the metadata it is filed under."""
    return "\n".join([SIGNED_PREFIX, sha256, source_document_id, record_number, str(stay), document_type]).encode()


# ---- registration (设备登记) ---------------------------------------------------------------------

@dataclass
class DeviceForm:
    """What the page or the API sends about a device."""

    name: str
    ip: str = ""
    department_id: int | None = None
    document_type_id: int | None = None
    kind: str = "other"
    public_key: str = ""
    certificate: str = ""


def devices(session: Session) -> list[Device]:
    return list(session.scalars(sa.select(Device).join(Device.source).order_by(Source.name)))


def device(session: Session, device_id: int) -> Device:
    found = session.get(Device, device_id)
    if found is None:
        raise NotFound("找不到该设备")
    return found


def register(session: Session, actor: Actor, code: str, form: DeviceForm) -> tuple[Device, str]:
    """The device, its push source and its push key, which is shown this once and never again."""
    code = code.strip().lower()
    if not CODE.match(code):
        raise Refusal("设备代码须为 2–48 位小写字母、数字、- 或 _，如 ecg-cart-03")
    if session.scalar(sa.select(Source.id).where(Source.name == code)) is not None:
        raise Refusal(f"代码“{code}”已被其他来源或设备使用")
    key = new_api_key()
    source = Source(name=code, transport="http_push", api_key_hash=hash_api_key(key))
    row = Device(source=source)
    _apply(session, row, form)
    session.add(row)
    session.flush()
    record_event(session, actor, "settings", object_type="device", object_id=row.id,
                 detail={"操作": "登记采集设备", "设备": source.title, "代码": code, "地址": row.ip})
    return row, key


def update(session: Session, actor: Actor, device_id: int, form: DeviceForm) -> Device:
    row = device(session, device_id)
    _apply(session, row, form)
    record_event(session, actor, "settings", object_type="device", object_id=row.id,
                 detail={"操作": "修改采集设备", "设备": row.source.title, "地址": row.ip})
    return row


def _apply(session: Session, row: Device, form: DeviceForm) -> None:
    name = form.name.strip()
    if not name or len(name) > 100:
        raise Refusal("请填写设备名称（不超过100个字符）")
    if form.kind not in DEVICE_KINDS:
        raise Refusal("设备类别无效")
    if form.department_id is not None and session.get(Department, form.department_id) is None:
        raise Refusal("科室不存在")
    if form.document_type_id is not None and session.get(DocumentType, form.document_type_id) is None:
        raise Refusal("默认文书类型不存在")
    row.public_key = _checked_public_key(form.public_key)
    row.certificate = _checked_certificate(form.certificate)
    row.ip = _checked_ip(form.ip)
    row.department_id = form.department_id
    row.source.title, row.source.kind = name, form.kind
    row.source.fallback_document_type_id = form.document_type_id


def _checked_ip(ip: str) -> str:
    ip = ip.strip()
    if not ip:
        return ""
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError as exc:
        raise Refusal(f"IP 地址“{ip[:45]}”格式无效") from exc


def _checked_public_key(pem: str) -> str:
    pem = pem.strip()
    if not pem:
        return ""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise Refusal("公钥无法识别：请粘贴采集程序 bingan-agent key 输出的 PEM 公钥") from exc
    _supported(key)
    return pem


def _checked_certificate(pem: str) -> str:
    pem = pem.strip()
    if not pem:
        return ""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
        key = cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise Refusal("证书无法识别：请粘贴医院签发的 PEM 格式证书") from exc
    _supported(key)
    if cert.not_valid_after_utc <= utcnow():
        raise Refusal(f"证书已于 {cert.not_valid_after_utc:%Y-%m-%d} 过期")
    return pem


def _supported(key: object) -> None:
    if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(key.curve, ec.SECP256R1):
        raise Refusal("椭圆曲线密钥须为 P-256")
    if not isinstance(key, PublicKey):
        raise Refusal("密钥类型不受支持：请使用 Ed25519、ECDSA P-256 或 RSA")


def rotate_key(session: Session, actor: Actor, device_id: int) -> tuple[Device, str]:
    """A new push key (the old one stops working at once), shown this once."""
    row = device(session, device_id)
    key = new_api_key()
    row.source.api_key_hash = hash_api_key(key)
    record_event(session, actor, "settings", object_type="device", object_id=row.id,
                 detail={"操作": "更换设备推送密钥", "设备": row.source.title})
    return row, key


def revoke_key(session: Session, actor: Actor, device_id: int) -> Device:
    """No key works for the device until a new one is made."""
    row = device(session, device_id)
    row.source.api_key_hash = ""
    record_event(session, actor, "settings", object_type="device", object_id=row.id,
                 detail={"操作": "吊销设备推送密钥", "设备": row.source.title})
    return row


def fingerprint(row: Device) -> str:
    """The first characters of the SHA-256 of the verifying key, to compare with the agent's."""
    key = _verifying_key(row)
    if key is None:
        return ""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def _verifying_key(row: Device) -> PublicKey | None:
    if row.certificate:
        return x509.load_pem_x509_certificate(row.certificate.encode()).public_key()
    if row.public_key:
        return serialization.load_pem_public_key(row.public_key.encode())
    return None


# ---- uploads (签名验证与采集日志) ------------------------------------------------------------------

@dataclass
class Upload:
    """A push as the device log sees it."""

    ip: str
    filename: str
    signature: str | None


def attest(source: Source, report: Report, staged: Path, upload: Upload) -> int | None:
    """The device this push came from, verified (its id), or None for a source that is no device.

    A device's push carries its signature; a missing, malformed or wrong one is refused (401),
    logged, and its staged file removed. The verified device is recorded on the collected item.
    """
    with transaction(get_engine()) as session:
        row = session.scalars(sa.select(Device).where(Device.source_id == source.id)).one_or_none()
        if row is None:
            return None
        problem = _signature_problem(row, report, upload.signature)
        if problem:
            _log(session, row, report, upload, "refused", reason=problem)
        else:
            report.metadata = {**report.metadata, "device": {"id": row.id, "name": row.source.title,
                                                             "code": row.source.name, "ip": upload.ip,
                                                             "signed_by": "certificate" if row.certificate
                                                             else "key"}}
        device_id = row.id
    if problem:
        staged.unlink(missing_ok=True)
        raise PushRefused(401, problem)
    return device_id


def _signature_problem(row: Device, report: Report, signature: str | None) -> str:
    key = _verifying_key(row)
    if key is None:
        return "设备尚未登记公钥或证书，不能接收其上传"
    if not signature:
        return f"缺少设备签名（请求头 {SIGNATURE_HEADER}）"
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return "设备签名格式无效（应为 base64）"
    if row.certificate:
        cert = x509.load_pem_x509_certificate(row.certificate.encode())
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        if not start <= utcnow() <= end:
            return f"设备证书不在有效期内（{start:%Y-%m-%d} 至 {end:%Y-%m-%d}）"
    text = signed_text(report.revision, report.source_document_id, report.record_number, report.stay,
                       report.document_type_code)
    return "" if _verified(key, raw, text) else "设备签名无效：文件或信息与签名不符，或不是该设备所签"


def _verified(key: PublicKey, signature: bytes, text: bytes) -> bool:
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, text)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, text, ec.ECDSA(hashes.SHA256()))
        else:
            key.verify(signature, text, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def note(device_id: int, report: Report, upload: Upload, answer: dict) -> None:
    """The accepted push in the device's log, and the device seen now from this address."""
    with transaction(get_engine()) as session:
        row = session.get(Device, device_id)
        outcome = "duplicate" if answer["duplicate"] else "accepted"
        moved = row.ip and upload.ip != row.ip  # accepted (the key and signature are the device's), but shown
        reason = f"来访地址与登记的 {row.ip} 不同" if moved else ""
        _log(session, row, report, upload, outcome, reason=reason, item_id=answer["item_id"])


def _log(session: Session, row: Device, report: Report, upload: Upload, outcome: str, *,
         reason: str = "", item_id: int | None = None) -> None:
    session.add(DeviceUpload(device_id=row.id, ip=upload.ip[:45], filename=upload.filename[:255],
                             record_number=report.record_number[:32], stay=report.stay,
                             sha256=report.revision[:64], outcome=outcome, reason=reason, item_id=item_id))
    row.last_seen_at, row.last_ip = utcnow(), upload.ip[:45]


def upload_log(session: Session, *, device_id: int | None = None, ip: str = "", since: datetime | None = None,
               until: datetime | None = None) -> list[DeviceUpload]:
    """The collection log, newest first: one device's, or by the address uploads came from (a
    prefix such as 10.1.2. finds a subnet), within a time range."""
    query = sa.select(DeviceUpload).order_by(DeviceUpload.at.desc(), DeviceUpload.id.desc()).limit(LOG_LIMIT)
    if device_id is not None:
        query = query.where(DeviceUpload.device_id == device_id)
    if ip.strip():
        query = query.where(DeviceUpload.ip.startswith(ip.strip(), autoescape=True))
    if since is not None:
        query = query.where(DeviceUpload.at >= since)
    if until is not None:
        query = query.where(DeviceUpload.at < until)
    return list(session.scalars(query))


def time_range(since: str, until: str) -> tuple[datetime | None, datetime | None]:
    """The log's range from what a user typed: a day alone ("2026-12-07") as "until" takes in that whole day."""
    return _moment(since, "起始时间"), _moment(until, "截止时间", whole_day=True)


def _moment(text: str, label: str, *, whole_day: bool = False) -> datetime | None:
    text = text.strip()
    try:
        moment = parse_time(text)
    except (ValueError, OverflowError) as exc:
        raise Refusal(f"{label}格式无效，应为日期或时间，如 2026-12-07 或 2026-12-07 08:30") from exc
    if moment is not None and whole_day and len(text) == 10:
        moment += timedelta(days=1)
    return moment


def upload_json(row: DeviceUpload) -> dict:
    return {"id": row.id, "device_id": row.device_id, "at": iso(row.at), "ip": row.ip, "filename": row.filename,
            "record_number": row.record_number, "stay": row.stay, "sha256": row.sha256, "outcome": row.outcome,
            "reason": row.reason, "item_id": row.item_id}
