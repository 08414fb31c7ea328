"""Sources edited on screen (采集源管理, A1, A6–A8, Q4): create and change a source, its run periods,
write-only credentials, push API keys (shown once), code mappings and "立即采集".

Commands and queries over a session passed in; the web layer owns the transaction. Every change
is audited (object_type "source"); a user's mistake is a ``Refusal`` and changes nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.config import Settings
from bingan.errors import Conflict, NotFound, Refusal
from bingan.ingest.connectors.basic_data import FIELDS
from bingan.ingest.pipeline import retry_items
from bingan.ingest.record_aliases import ALIAS_FIELDS
from bingan.ingest.resolve import TYPE_UNKNOWN
from bingan.ingest.scheduler import PULL_TRANSPORTS
from bingan.ingest.secrets import hash_api_key, new_api_key, open_credentials, seal_credentials
from bingan.storage.models import Campus, CollectedItem, CollectionRun, DocumentType, Source, SourceMapping, utcnow
from bingan.storage.models.ingest import SOURCE_KINDS

KIND_NAMES = {"emr": "电子病历", "his": "HIS", "lis": "检验（LIS）", "pacs": "影像（PACS）", "pathology": "病理",
              "ecg": "心电", "transfusion": "输血", "anaesthesia": "手术麻醉", "manual": "手工导入", "other": "其他"}
TRANSPORT_NAMES = {"http_pull": "HTTP 拉取（REST）", "http_push": "HTTP 推送（对方调用接口）", "ftp": "FTP",
                   "soap": "WebService（SOAP）", "folder": "共享目录", "basic_data": "基础数据同步"}
VISIT_NAMES = {"inpatient": "住院", "outpatient": "门诊"}
CREDENTIAL_KEYS = ("username", "password", "token")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
PERIOD = re.compile(r"^(?P<days>每天|\*|[1-7](?:[-,][1-7])*)\s+(?P<start>\d{2}:\d{2})\s*-\s*(?P<end>\d{2}:\d{2})$")
CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
ENDPOINT_HINTS = {"http_pull": "http", "basic_data": "http", "soap": "http", "ftp": "ftp://"}


@dataclass
class SourceInput:
    """What an administrator sets for a source; ``credentials`` holds only what was typed (blank = keep)."""

    name: str = ""
    title: str = ""
    kind: str = "other"
    transport: str = "http_pull"
    endpoint: str = ""
    campus_id: int | None = None
    periods: list[dict] = field(default_factory=list)
    interval_minutes: int = 15
    collection_delay_hours: int = 0
    recollect_days: int = 0
    rate_limit_per_minute: int = 0
    max_mb: int = 0
    create_missing_records: bool = False
    fallback_document_type_id: int | None = None
    visit_type: str = "inpatient"
    options: dict = field(default_factory=dict)
    enabled: bool = True
    credentials: dict[str, str] = field(default_factory=dict)
    clear_credentials: bool = False


def input_of(source: Source) -> SourceInput:
    """A source's settings as an input to change (its credentials are not read back)."""
    options = dict(source.options or {})
    return SourceInput(
        name=source.name, title=source.title, kind=source.kind, transport=source.transport, endpoint=source.endpoint,
        campus_id=source.campus_id, periods=list(source.periods or []), interval_minutes=source.interval_minutes,
        collection_delay_hours=source.collection_delay_hours, recollect_days=source.recollect_days,
        rate_limit_per_minute=source.rate_limit_per_minute, max_mb=source.max_bytes // (1024 * 1024),
        create_missing_records=source.create_missing_records,
        fallback_document_type_id=source.fallback_document_type_id,
        visit_type=options.pop("visit_type", "inpatient"), options=options, enabled=source.enabled)


def sources(session: Session) -> list[Source]:
    """The sources an administrator sets up (the built-in 手工导入 source is not one of them)."""
    return list(session.scalars(sa.select(Source).where(Source.transport != "manual").order_by(Source.name)))


def get_source(session: Session, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise NotFound("采集源不存在")
    return source


def create_source(session: Session, settings: Settings, actor: Actor, data: SourceInput) -> Source:
    name = data.name.strip()
    if not NAME.match(name):
        raise Refusal("来源代码须以字母开头，只含字母、数字、下划线、点或连字符，最长 64 个字符（例如 emr、lis_east）")
    if session.scalar(sa.select(Source.id).where(Source.name == name)) is not None:
        raise Conflict(f"来源代码“{name}”已被使用")
    source = Source(name=name)
    session.add(source)
    _apply(session, settings, source, data)
    session.flush()
    record_event(session, actor, "source_create", object_type="source", object_id=source.id,
                 detail={"来源": name, "方式": TRANSPORT_NAMES.get(source.transport, source.transport)})
    return source


def update_source(session: Session, settings: Settings, actor: Actor, source_id: int, data: SourceInput) -> Source:
    """The code (name) stays: it is every collected document's source system."""
    source = get_source(session, source_id)
    if source.transport == "manual":
        raise Refusal(f"“{source.title or source.name}”是系统内置的手工导入来源，不能在此修改")
    _apply(session, settings, source, data)
    record_event(session, actor, "source_change", object_type="source", object_id=source.id,
                 detail={"来源": source.name, "启用": source.enabled,
                         "凭据": "已清除" if data.clear_credentials else ("已更新" if _typed(data) else "未变")})
    return source


def _apply(session: Session, settings: Settings, source: Source, data: SourceInput) -> None:
    _check(session, data)
    source.title = data.title.strip()[:100] or source.name
    source.kind, source.transport, source.endpoint = data.kind, data.transport, data.endpoint.strip()
    source.campus_id, source.periods = data.campus_id, data.periods
    source.interval_minutes, source.collection_delay_hours = data.interval_minutes, data.collection_delay_hours
    source.recollect_days, source.rate_limit_per_minute = data.recollect_days, data.rate_limit_per_minute
    source.max_bytes = data.max_mb * 1024 * 1024
    source.create_missing_records = data.create_missing_records
    source.fallback_document_type_id = data.fallback_document_type_id
    source.options = {**data.options, "visit_type": data.visit_type}
    if source.enabled != data.enabled:
        source.next_run_at = None  # a source switched on runs at the next tick
    source.enabled = data.enabled
    source.credentials = _credentials(settings, source, data)


def _check(session: Session, data: SourceInput) -> None:
    if data.kind not in SOURCE_KINDS:
        raise Refusal("来源类别不正确")
    if data.transport not in TRANSPORT_NAMES:
        raise Refusal("采集方式不正确")
    if data.visit_type not in VISIT_NAMES:
        raise Refusal("就诊类型只能是住院或门诊")
    _check_endpoint(data.transport, data.endpoint.strip())
    numbers = {"采集间隔（分钟）": (data.interval_minutes, 1, 10080),
               "出院后延迟（小时）": (data.collection_delay_hours, 0, 8760),
               "出院后补采天数": (data.recollect_days, 0, 3650),
               "每分钟限速": (data.rate_limit_per_minute, 0, 100000),
               "单个文件上限（MB）": (data.max_mb, 0, 100000)}
    for label, (value, low, high) in numbers.items():
        if not low <= value <= high:
            raise Refusal(f"{label}须在 {low}–{high} 之间")
    if data.campus_id is not None and session.get(Campus, data.campus_id) is None:
        raise Refusal("院区不存在")
    if data.fallback_document_type_id is not None and session.get(DocumentType, data.fallback_document_type_id) is None:
        raise Refusal("默认文书类型不存在")
    check_periods(data.periods)


def _check_endpoint(transport: str, endpoint: str) -> None:
    if transport == "http_push":
        return
    if not endpoint:
        raise Refusal("请填写地址（接口地址、FTP 地址、WSDL 地址或共享目录路径）")
    hint = ENDPOINT_HINTS.get(transport)
    if hint and not endpoint.lower().startswith(hint):
        example = "ftp://主机:21/目录" if transport == "ftp" else "http://主机:端口/路径"
        raise Refusal(f"地址格式不正确，应写成 {example}")


def _typed(data: SourceInput) -> dict[str, str]:
    return {k: v for k, v in data.credentials.items() if k in CREDENTIAL_KEYS and v.strip()}


def _credentials(settings: Settings, source: Source, data: SourceInput) -> str:
    """Write-only: typed values replace their own kind, blank ones keep what is stored."""
    if data.clear_credentials:
        return ""
    typed = _typed(data)
    if not typed:
        return source.credentials or ""
    return seal_credentials(settings, {**open_credentials(settings, source.credentials or ""), **typed})


def credentials_set(settings: Settings, source: Source) -> list[str]:
    """Which credentials are stored (never their values)."""
    return [key for key in CREDENTIAL_KEYS if open_credentials(settings, source.credentials or "").get(key)]


# ---- run periods (采集时段) ---------------------------------------------------------------------

def check_periods(periods: list[dict]) -> None:
    for period in periods:
        days = period.get("days", [])
        if not days or any(not isinstance(d, int) or not 1 <= d <= 7 for d in days):
            raise Refusal("采集时段的星期须为 1–7（1 = 周一）")
        if not (CLOCK.match(str(period.get("start", ""))) and CLOCK.match(str(period.get("end", "")))):
            raise Refusal("采集时段的时间须写成 HH:MM，例如 22:00")


def parse_periods(text: str) -> list[dict]:
    """One period a line: "1-5 22:00-06:00", "6,7 00:00-24:00" or "每天 20:00-07:00" (Beijing time)."""
    periods = []
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        match = PERIOD.match(line)
        if match is None:
            raise Refusal(f"采集时段“{line}”格式不正确，应写成“1-5 22:00-06:00”或“每天 20:00-07:00”")
        periods.append({"days": _days(match["days"]), "start": match["start"], "end": match["end"]})
    check_periods(periods)
    return periods


def _days(text: str) -> list[int]:
    if text in ("每天", "*"):
        return list(range(1, 8))
    days: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        days |= set(range(int(low), int(high or low) + 1))
    return sorted(days)


def format_periods(periods: list[dict]) -> str:
    return "\n".join(f"{_day_text(p.get('days', []))} {p.get('start', '00:00')}-{p.get('end', '24:00')}"
                     for p in periods)


def _day_text(days: list[int]) -> str:
    """[1..7] as 每天, three or more days in a row as 1-5, the rest as 6,7."""
    if sorted(days) == list(range(1, 8)):
        return "每天"
    runs: list[list[int]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) >= 3 else ",".join(map(str, r)) for r in runs)


# ---- push API keys (推送密钥) ---------------------------------------------------------------------

def issue_key(session: Session, actor: Actor, source_id: int) -> str:
    """A new key for a push source; the old one (if any) stops working at once. Shown only now."""
    source = get_source(session, source_id)
    if source.transport != "http_push":
        raise Refusal("只有推送方式的来源需要 API 密钥")
    action = "source_key_rotate" if source.api_key_hash else "source_key_create"
    key = new_api_key()
    source.api_key_hash = hash_api_key(key)
    record_event(session, actor, action, object_type="source", object_id=source.id, detail={"来源": source.name})
    return key


def revoke_key(session: Session, actor: Actor, source_id: int) -> Source:
    source = get_source(session, source_id)
    if not source.api_key_hash:
        raise Conflict("该来源没有有效的 API 密钥")
    source.api_key_hash = ""
    record_event(session, actor, "source_key_revoke", object_type="source", object_id=source.id,
                 detail={"来源": source.name})
    return source


# ---- 立即采集 ------------------------------------------------------------------------------------

def run_now(session: Session, actor: Actor, source_id: int) -> Source:
    """Make the source due now: the next beat tick (``BINGAN_INGEST_SWEEP_SECONDS``) claims and runs it,
    as re-collection does — one way in, so a run is never started twice."""
    source = get_source(session, source_id)
    if source.transport not in PULL_TRANSPORTS:
        raise Refusal(f"来源“{source.title or source.name}”是推送接口，文书由对方系统发送，无法主动采集")
    if not source.enabled:
        raise Conflict(f"来源“{source.title or source.name}”已停用，请先启用")
    source.next_run_at = utcnow()
    record_event(session, actor, "source_run", object_type="source", object_id=source.id, detail={"来源": source.name})
    return source


def recent_runs(session: Session, source_id: int, limit: int = 10) -> list[CollectionRun]:
    return list(session.scalars(sa.select(CollectionRun).where(CollectionRun.source_id == source_id)
                                .order_by(CollectionRun.id.desc()).limit(limit)))


def item_counts(session: Session, source_id: int) -> dict[str, int]:
    rows = session.execute(sa.select(CollectedItem.state, sa.func.count()).where(CollectedItem.source_id == source_id)
                           .group_by(CollectedItem.state))
    return {state: count for state, count in rows}


# ---- code mappings (文书类型对照) ------------------------------------------------------------------

@dataclass(frozen=True)
class UnmappedCode:
    code: str
    items: int
    title: str  # one title the source gave, to recognise the code by


def unmapped_codes(session: Session, source_id: int, limit: int = 200) -> list[UnmappedCode]:
    """Codes of this source whose items failed as unknown document types, most frequent first."""
    rows = session.execute(
        sa.select(CollectedItem.document_type_code, sa.func.count(), sa.func.max(CollectedItem.title))
        .where(CollectedItem.source_id == source_id, CollectedItem.state == "failed",
               CollectedItem.failure_code == TYPE_UNKNOWN)
        .group_by(CollectedItem.document_type_code).order_by(sa.func.count().desc()).limit(limit))
    return [UnmappedCode(code, count, title or "") for code, count, title in rows]


def mappings(session: Session, source_id: int) -> list[SourceMapping]:
    return list(session.scalars(sa.select(SourceMapping).where(SourceMapping.source_id == source_id)
                                .order_by(SourceMapping.source_code)))


def map_code(session: Session, actor: Actor, source_id: int, code: str, name: str,
             document_type_id: int | None) -> tuple[SourceMapping, int]:
    """Map (or re-map) one code; the items that failed for want of it are queued again. Returns the
    mapping and how many items were retried."""
    source, code = get_source(session, source_id), code.strip()
    if not code:
        raise Refusal("请填写来源的文书类型代码")
    document_type = session.get(DocumentType, document_type_id) if document_type_id else None
    if document_type is None:
        raise Refusal("请选择对应的标准文书类型")
    mapping = session.scalars(sa.select(SourceMapping).where(
        SourceMapping.source_id == source.id, SourceMapping.source_code == code)).one_or_none()
    if mapping is None:
        mapping = SourceMapping(source_id=source.id, source_code=code[:100])
        session.add(mapping)
    mapping.source_name, mapping.document_type_id = name.strip()[:100], document_type.id
    session.flush()
    retried = retry_items(session, _failed_with_code(session, source.id, code), failure_code=TYPE_UNKNOWN)
    record_event(session, actor, "source_mapping", object_type="source", object_id=source.id,
                 detail={"来源": source.name, "代码": code, "文书类型": document_type.name, "重新排队": len(retried)})
    return mapping, len(retried)


def _failed_with_code(session: Session, source_id: int, code: str) -> list[int]:
    return list(session.scalars(sa.select(CollectedItem.id).where(
        CollectedItem.source_id == source_id, CollectedItem.document_type_code == code,
        CollectedItem.state == "failed", CollectedItem.failure_code == TYPE_UNKNOWN)))


def unmap_code(session: Session, actor: Actor, source_id: int, mapping_id: int) -> None:
    mapping = session.get(SourceMapping, mapping_id)
    if mapping is None or mapping.source_id != source_id:
        raise NotFound("对照不存在")
    record_event(session, actor, "source_mapping_delete", object_type="source", object_id=source_id,
                 detail={"代码": mapping.source_code})
    session.delete(mapping)


def source_json(settings: Settings, session: Session, source: Source) -> dict:
    """A source as the API shows it: credentials only as which are set, the key only as whether one is."""
    return {
        "id": source.id, "name": source.name, "title": source.title, "kind": source.kind,
        "transport": source.transport, "endpoint": source.endpoint, "campus_id": source.campus_id,
        "periods": source.periods, "interval_minutes": source.interval_minutes,
        "collection_delay_hours": source.collection_delay_hours, "recollect_days": source.recollect_days,
        "rate_limit_per_minute": source.rate_limit_per_minute, "max_mb": source.max_bytes // (1024 * 1024),
        "create_missing_records": source.create_missing_records,
        "fallback_document_type_id": source.fallback_document_type_id,
        "visit_type": (source.options or {}).get("visit_type", "inpatient"),
        "options": {k: v for k, v in (source.options or {}).items() if k != "visit_type"},
        "enabled": source.enabled, "credentials_set": credentials_set(settings, source),
        "has_api_key": bool(source.api_key_hash), "field_mapping": source.field_mapping or {},
        "last_run_at": source.last_run_at.isoformat() if source.last_run_at else None,
        "next_run_at": source.next_run_at.isoformat() if source.next_run_at else None,
        "last_error": source.last_error,
    }


# ---- basic-data field mapping (字段对照) ------------------------------------------------------------

def save_field_mapping(session: Session, actor: Actor, source_id: int, mapping: dict[str, dict[str, str]]) -> Source:
    """Our field -> the HIS's field, per entity; a blank field is read under our own name."""
    source, known = get_source(session, source_id), {**FIELDS, "aliases": ALIAS_FIELDS}
    cleaned: dict[str, dict[str, str]] = {}
    for entity, fields in mapping.items():
        if entity not in known or not isinstance(fields, dict):
            raise Refusal(f"没有这类基础数据：{entity}")
        for ours, theirs in fields.items():
            if ours not in known[entity] or not isinstance(theirs, str) or len(theirs) > 64:
                raise Refusal(f"字段对照“{entity}.{ours}”不正确（对方字段名最长 64 个字符）")
            if theirs.strip():
                cleaned.setdefault(entity, {})[ours] = theirs.strip()
    source.field_mapping = cleaned
    record_event(session, actor, "source_fields", object_type="source", object_id=source.id,
                 detail={"来源": source.name, "对照": sum(len(f) for f in cleaned.values())})
    return source
