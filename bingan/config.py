"""One settings object for the whole application: every option is an environment variable BINGAN_*."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Defaults describe the embedded single machine; all data lives under ``home``.

    Scale-out (compose.yaml) switches by environment variables only.
    """

    model_config = SettingsConfigDict(env_prefix="BINGAN_", env_file=None, extra="ignore")

    home: Path = Field(Path("var"), description="数据根目录: database, volumes, index, key file, logs")
    database_url: str = Field("", description="SQLAlchemy URL; empty = SQLite at HOME/bingan.db")
    blob_backend: str = Field("local", description="local (encrypted volumes) or gridfs")
    blob_volumes: str = Field(
        "",
        description="comma-separated volume directories; suffix ':ro' = read-only, "
        "'@SIZE' (e.g. @500G) = capacity cap; empty = HOME/volumes/v1",
    )
    volume_reserve_mb: int = Field(256, description="free space kept on each volume (MiB)")
    cipher: str = Field("aes-256-gcm", description="blob cipher for new writes: aes-256-gcm or sm4-gcm")
    master_key: str = Field("", description="master key, 64 hex characters; empty = key file")
    key_file: Path | None = Field(None, description="master key file; default HOME/master.key")
    audit_key_file: Path | None = Field(
        None,
        description="key of the audit chain (HMAC); its checkpoint log is kept beside it; default HOME/audit.key. "
        "Production: a directory the database's writers cannot write (another disk or host mount)",
    )
    mongo_url: str = Field("", description="MongoDB URL for the GridFS store")
    mongo_database: str = Field("bingan", description="MongoDB database name")
    search_backend: str = Field("tantivy", description="tantivy (embedded) or elasticsearch")
    index_dir: Path | None = Field(None, description="tantivy index; default HOME/index")
    es_url: str = Field("", description="Elasticsearch URL")
    es_index_prefix: str = Field("bingan", description="prefix of Elasticsearch index names")
    broker_url: str = Field("", description="Celery broker; empty = embedded filesystem broker under HOME")
    tika_url: str = Field("", description="Apache Tika server for office documents")
    host: str = Field("127.0.0.1", description="address the web server listens on")
    port: int = Field(8000, description="port the web server listens on")
    secret_key: str = Field("", description="session signing key; empty = generated into HOME/secret.key")
    hospital_name: str = Field("示例医院", description="hospital name on pages and watermarks")
    time_zone: str = Field("Asia/Shanghai", description="the hospital's time zone (IANA name): every date users see, "
                           "filter, count or export, and export file names, are in it; the JSON API gives datetimes "
                           "with this offset; times are stored in UTC. After changing it run `bingan reindex --fresh` "
                           "(the index stores each record's year)")
    record_number_width: int = Field(0, ge=0, le=32, description="digits of the hospital's record numbers (病案号) "
                                     "when they are zero-padded, e.g. 7 for 0100051: a bulk lookup then also finds "
                                     "100051 (Excel drops leading zeros); 0 = numbers are matched as typed")
    log_level: str = Field("INFO", description="logging level")
    trusted_proxies: str = Field(
        "",
        description="reverse proxies whose X-Forwarded-For is believed: comma-separated addresses or CIDRs; "
        "empty = none (the connecting address is the client's)",
    )
    max_request_mb: int = Field(32, ge=1, description="largest request body any page or API accepts (MiB); "
                                "the push API has its own limit")
    secure_cookies: bool = Field(False, description="cookies only over HTTPS (set when users reach Bingan by "
                                 "https:// through a proxy); requests made over https get them anyway")

    @field_validator("blob_backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in {"local", "gridfs"}:
            raise ValueError("BINGAN_BLOB_BACKEND must be local or gridfs")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _readable_proxies(cls, value: str) -> str:
        import ipaddress

        # Refused at start-up, naming the entry, rather than at the first request. The same test as
        # access.addresses.parse_network, which reads the setting; config sits below access.
        for entry in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as error:
                raise ValueError(f"BINGAN_TRUSTED_PROXIES: 地址或地址段格式不正确：{entry}") from error
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except (ValueError, KeyError) as error:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"BINGAN_TIME_ZONE: unknown time zone {value!r} (e.g. Asia/Shanghai)") from error
        return value

    @field_validator("cipher")
    @classmethod
    def _known_cipher(cls, value: str) -> str:
        if value not in {"aes-256-gcm", "sm4-gcm"}:
            raise ValueError("BINGAN_CIPHER must be aes-256-gcm or sm4-gcm")
        return value

    @property
    def resolved_home(self) -> Path:
        return self.home.resolve()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.resolved_home / 'bingan.db'}"

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file or self.resolved_home / "master.key"

    @property
    def resolved_audit_key_file(self) -> Path:
        return self.audit_key_file or self.resolved_home / "audit.key"

    @property
    def resolved_index_dir(self) -> Path:
        return self.index_dir or self.resolved_home / "index"

    @property
    def log_dir(self) -> Path:
        return self.resolved_home / "logs"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or "filesystem://"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()
