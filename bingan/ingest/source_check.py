"""Trying a source before it runs (测试连接, 同步预览): each connector's own way in — HTTP GET of the
pull contract, the SOAP service's WSDL and operations, an FTP login and directory, the shared
folder — with a short timeout and a Chinese answer; and the next basic-data sync, mapped but not
written. Nothing here changes the database.
"""
from __future__ import annotations

import ftplib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx

from bingan.config import Settings
from bingan.ingest.connectors.basic_data import ENTITIES, FIELDS, mapped
from bingan.ingest.secrets import open_credentials
from bingan.storage.models import Source

TIMEOUT = 5.0
PREVIEW_ROWS = 20
# Masked in the preview: the system administrator reads no patient or staff personal data (三员分立).
PERSONAL = {"patients": {"name", "id_number", "phone"}, "users": {"full_name"}}


@dataclass(frozen=True)
class Probe:
    ok: bool
    message: str


def probe(settings: Settings, source: Source) -> Probe:
    checks = {"http_pull": _http_pull, "basic_data": _basic_data, "soap": _soap, "ftp": _ftp, "folder": _folder}
    check = checks.get(source.transport)
    if check is None:
        state = "已创建 API 密钥" if source.api_key_hash else "尚未创建 API 密钥"
        return Probe(bool(source.api_key_hash), f"推送接口由对方系统调用，无需测试连接；{state}")
    creds = open_credentials(settings, source.credentials or "")
    try:
        return check(source, creds)
    except (httpx.HTTPError, OSError, ftplib.Error, EOFError) as exc:
        return Probe(False, f"连接失败：{_reason(exc)}")


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return f"{TIMEOUT:.0f} 秒内无应答（超时）"
    if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
        return "对方拒绝连接（地址或端口不对，或服务未启动）"
    if isinstance(exc, ftplib.error_perm):
        return f"FTP 服务器拒绝：{str(exc)[:200]}"
    return f"{exc.__class__.__name__}：{str(exc)[:200]}"


def _client(source: Source, creds: dict) -> httpx.Client:
    headers = {"Authorization": f"Bearer {creds['token']}"} if creds.get("token") else {}
    auth = (creds["username"], creds.get("password", "")) if creds.get("username") else None
    return httpx.Client(base_url=source.endpoint.rstrip("/"), headers=headers, auth=auth, timeout=TIMEOUT)


def _answered(response: httpx.Response, what: str) -> Probe:
    if response.status_code in (401, 403):
        return Probe(False, f"对方拒绝了凭据（HTTP {response.status_code}）：请检查用户名、密码或令牌")
    if response.status_code >= 400:
        return Probe(False, f"{what}返回错误 HTTP {response.status_code}")
    return Probe(True, f"连接成功：{what}应答正常（HTTP {response.status_code}）")


def _http_pull(source: Source, creds: dict) -> Probe:
    """The list of changes since the source's cursor; only the status is read, not the list."""
    with _client(source, creds) as client, client.stream("GET", "/documents", params={"since": source.cursor}) as r:
        return _answered(r, "文书变更列表接口")


def _basic_data(source: Source, creds: dict) -> Probe:
    with _client(source, creds) as client, client.stream("GET", "/basic/departments") as r:
        return _answered(r, "基础数据接口")


def _soap(source: Source, creds: dict) -> Probe:
    """The WSDL is fetched and read; both operations the connector calls must be offered."""
    import zeep
    from zeep.transports import Transport

    transport = Transport(timeout=TIMEOUT, operation_timeout=TIMEOUT)
    if creds.get("username"):
        from requests.auth import HTTPBasicAuth

        transport.session.auth = HTTPBasicAuth(creds["username"], creds.get("password", ""))
    try:
        client = zeep.Client(source.endpoint, transport=transport)
    except Exception as exc:  # zeep raises transport, XML and WSDL errors alike
        return Probe(False, f"无法读取 WSDL：{_reason(exc)}")
    offered = {op for service in client.wsdl.services.values() for port in service.ports.values()
               for op in port.binding.all()}
    wanted = [(source.options or {}).get("list_operation", "ListChangedDocuments"),
              (source.options or {}).get("get_operation", "GetDocument")]
    missing = [op for op in wanted if op not in offered]
    if missing:
        return Probe(False, f"WSDL 中没有操作 {'、'.join(missing)}（提供的有：{'、'.join(sorted(offered)) or '无'}）")
    return Probe(True, f"连接成功：WSDL 可读取，操作 {'、'.join(wanted)} 均存在")


def _ftp(source: Source, creds: dict) -> Probe:
    url = urlparse(source.endpoint)
    with ftplib.FTP() as ftp:
        ftp.connect(url.hostname or "127.0.0.1", url.port or 21, timeout=TIMEOUT)
        ftp.login(creds.get("username", "anonymous"), creds.get("password", ""))
        ftp.cwd(url.path or "/")
    return Probe(True, f"连接成功：已登录 FTP 并进入目录 {url.path or '/'}")


def _folder(source: Source, creds: dict) -> Probe:
    folder = Path(source.endpoint)
    if not folder.is_dir():
        return Probe(False, f"共享目录不存在或无法访问：{folder}")
    waiting = sum(1 for path in folder.iterdir() if path.is_file() and not path.name.endswith(".json"))
    return Probe(True, f"目录可访问，当前有 {waiting} 个待采集文件")


# ---- the next basic-data sync, mapped and not written (同步预览) ------------------------------------

@dataclass
class Preview:
    entity: str
    fields: list[str]
    rows: list[dict]
    total: int


def preview_sync(settings: Settings, source: Source, rows: int = PREVIEW_ROWS) -> list[Preview]:
    """What the next sync would apply, per entity: the first ``rows`` rows read through the field
    mapping. Raises ``httpx.HTTPError`` when the source cannot be read."""
    creds = open_credentials(settings, source.credentials or "")
    mapping = source.field_mapping or {}
    previews = []
    with _client(source, creds) as client:
        for entity in ENTITIES:
            response = client.get(f"/basic/{entity}")
            response.raise_for_status()
            body = response.json()
            fields = FIELDS[entity]
            secret = PERSONAL.get(entity, set())
            shown = [{f: _shown(mapped(row, mapping.get(entity, {}), f), f in secret) for f in fields}
                     for row in body[:rows]]
            previews.append(Preview(entity, list(fields), shown, len(body)))
    return previews


def _shown(value: object, masked: bool) -> str:
    if value is None:
        return ""
    text = str(value)
    if masked and text:
        return text[0] + "*" * (len(text) - 1)
    return text[:100]
