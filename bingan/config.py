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
        "'@SIZE' (e.g. @500G) = capacity cap, ':cold' = cold tier (冷存储: no new writes, receives the "
        "files of old records, see BINGAN_TIER_*); empty = HOME/volumes/v1",
    )
    tier_cold_after_years: int = Field(5, ge=1, le=100, description="the files of a record move to a cold "
                                       "volume once the patient's last discharge or visit is this many years old "
                                       "(nightly, and `bingan tier-move`); nothing moves without a ':cold' volume")
    tier_move_hour: int = Field(2, ge=0, le=23, description="hour of the night (hospital time) the tier move "
                                "starts as a background job")
    tier_move_limit: int = Field(20000, ge=1, description="most files one nightly tier move handles; the "
                                 "rest follow the next nights")
    tier_promote_on_read: bool = Field(True, description="a file read from a cold volume is brought back to a "
                                       "hot volume by the worker soon after (the read itself is served from "
                                       "the cold volume)")
    tier_keep_promoted_days: int = Field(365, ge=0, description="a file brought back to hot (read, prefetch) "
                                         "is not moved to cold again for this many days")
    tier_prefetch_pages: int = Field(2, ge=0, le=50, description="when the HIS reports an admission or a booked "
                                     "appointment, this many first pages of each of the patient's documents "
                                     "brought back from cold are rendered in advance")
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
    web_workers: int = Field(0, ge=0, le=64, description="web server processes; 0 = one per CPU core "
                                                       "(at most 4) on PostgreSQL, one on SQLite")
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
    recall_recollect_minutes: int = Field(30, ge=1, le=1440, description="while a record is recalled (召回中), its "
                                          "sources are re-collected every N minutes so EMR edits arrive by themselves")
    backup_passphrase: str = Field("", description="passphrase sealing the key material in backups (`bingan backup`, "
                                   "`bingan restore`, scheduled backups); at least 12 characters; or "
                                   "BINGAN_BACKUP_PASSPHRASE_FILE / --passphrase-file")
    backup_passphrase_file: Path | None = Field(None, description="file holding the backup passphrase (one line, "
                                                "owner-only), read when BINGAN_BACKUP_PASSPHRASE is empty: by the "
                                                "worker's scheduled backups and by `bingan backup`/`restore`")
    import_root: Path | None = Field(None, description="folder under which historical scans are imported from "
                                     "(历史病案导入根目录); manifests and folders outside it are refused; "
                                     "default HOME/imports")
    scan_watch_dir: Path | None = Field(None, description="watched scanner folder (扫描仪监控文件夹): files "
                                        "named 病案号_住院次数_分类[_序号].jpg|tif|pdf are filed as captured pages "
                                        "every beat tick, then moved to processed/ or failed/ (with a 原因 file); a "
                                        "first-level folder named by a username files as that operator; empty = off")
    secure_cookies: bool = Field(False, description="cookies only over HTTPS (set when users reach Bingan by "
                                 "https:// through a proxy); requests made over https get them anyway")
    sso: str = Field("", description="single sign-on (统一身份认证): oidc or cas; empty = password login only")
    oidc_issuer: str = Field("", description="OIDC provider's issuer URL (its "
                             "/.well-known/openid-configuration is read)")
    oidc_client_id: str = Field("", description="Bingan's client id at the OIDC provider")
    oidc_client_secret: str = Field("", description="Bingan's client secret at the OIDC provider "
                                    "(empty = public client, PKCE only)")
    oidc_scopes: str = Field("openid profile", description="scopes asked of the OIDC provider")
    cas_url: str = Field("", description="CAS server base URL, e.g. https://cas.hospital/cas")
    cas_version: str = Field("3", description="CAS protocol: 3 (/p3/serviceValidate, attributes) or 2 "
                             "(/serviceValidate)")
    sso_staff_claim: str = Field("staff_number", description="OIDC claim or CAS attribute holding the staff number "
                                 "(工号) users are matched by; 'sub' (OIDC) or 'user' (CAS) = the login name itself")
    sso_name_claim: str = Field("name", description="OIDC claim or CAS attribute holding the person's name")
    sso_create_users: bool = Field(False, description="create a user at the first single sign-on of an unknown "
                                   "staff number (with BINGAN_SSO_DEFAULT_ROLE); false = only existing users")
    sso_default_role: str = Field("clinician", description="role code given to users created at first sign-on")
    sso_password_login: bool = Field(True, description="false = users who have signed in by SSO or certificate "
                                     "can no longer log in with a password")
    sso_mfa_amr: str = Field("mfa,otp,hwk,sc,swk,sms,face,fpt", description="OIDC amr values that count as the "
                             "second factor (二次验证) having been done at the provider; empty = always ask Bingan's")
    client_cert_header: str = Field("", description="request header in which the TLS proxy passes the verified "
                                    "client certificate (nginx $ssl_client_escaped_cert), e.g. X-SSL-Client-Cert; "
                                    "believed only from BINGAN_TRUSTED_PROXIES; empty = no certificate login")
    client_cert_ca_file: Path | None = Field(None, description="PEM file of the CA certificates whose user "
                                             "certificates may log in")
    client_cert_crl_file: Path | None = Field(None, description="CRL file (PEM or DER) of revoked certificates; "
                                              "re-read when it changes")
    client_cert_ocsp: bool = Field(False, description="also ask the OCSP responder named in the certificate; "
                                   "refused when it cannot be reached")
    client_cert_match: str = Field("staff_number", description="how a certificate finds its user: staff_number "
                                   "(subject attribute or extension BINGAN_CLIENT_CERT_STAFF_OID), subject or serial "
                                   "(bound with `bingan user bind-certificate`)")
    client_cert_staff_oid: str = Field("2.5.4.5", description="OID of the subject attribute or certificate extension "
                                       "holding the staff number; default the subject's serialNumber")
    signing: str = Field("local", description="the signing service of archive signatures (归档签章): local (keys "
                         "issued by the hospital CA Bingan creates, sealed with the master key) or remote (the CA "
                         "vendor's signing server at BINGAN_SIGNING_URL, keys per staff number)")
    signing_url: str = Field("", description="the remote signing server's API base URL (GET /certificate, POST /sign)")
    signing_algorithm: str = Field("sm2", description="key algorithm of the local hospital CA and the reviewers' "
                                   "certificates it issues: sm2 (SM2/SM3), rsa or ecdsa")
    tsa_url: str = Field("", description="RFC 3161 time-stamping authority (时间戳服务器) URL; empty = archive "
                         "signatures carry only the signer's own time")
    archive_signed_copy: bool = Field(False, description="归档签章 also as a signed archive copy: one PDF of the "
                                      "archived record (cover, every document's file attached, the manifest) "
                                      "signed by the reviewer through the signing port with the TSA's timestamp; "
                                      "costs the record's size again in storage")
    ca_validation: str = Field("off", description="联机验证 of the signatures in collected documents: ocsp (the OCSP "
                               "responder of each signing certificate, RFC 6960), api (the CA vendor's validation "
                               "service at BINGAN_CA_VALIDATION_URL) or off; offline the local verdict stands")
    ca_ocsp_url: str = Field("", description="OCSP responder asked for every certificate; empty = the one the "
                             "certificate names (Authority Information Access)")
    ca_validation_url: str = Field("", description="the CA validation service's URL (POST JSON: certificate in, "
                                   "status out; docs/security.md)")
    ca_validation_token: str = Field("", description="bearer token sent to the CA validation service; empty = none")
    ca_validation_timeout: float = Field(3.0, description="seconds to wait for the OCSP responder or validation "
                                         "service before recording 未能联机验证")
    ocsp_cache_seconds: int = Field(3600, ge=0, description="how long a good or revoked OCSP answer without "
                                    "nextUpdate is reused for other documents signed by the same certificate "
                                    "(an answer with nextUpdate is reused until then); 0 = not reused")

    @field_validator("ca_validation")
    @classmethod
    def _known_ca_validation(cls, value: str) -> str:
        if value not in {"off", "ocsp", "api"}:
            raise ValueError("BINGAN_CA_VALIDATION must be ocsp, api or off")
        return value

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

    @field_validator("signing")
    @classmethod
    def _known_signing(cls, value: str) -> str:
        if value not in {"local", "remote"}:
            raise ValueError("BINGAN_SIGNING must be local or remote")
        return value

    @field_validator("signing_algorithm")
    @classmethod
    def _known_algorithm(cls, value: str) -> str:
        if value not in {"sm2", "rsa", "ecdsa"}:
            raise ValueError("BINGAN_SIGNING_ALGORITHM must be sm2, rsa or ecdsa")
        return value

    @field_validator("sso")
    @classmethod
    def _known_sso(cls, value: str) -> str:
        if value not in {"", "oidc", "cas"}:
            raise ValueError("BINGAN_SSO must be oidc, cas or empty")
        return value

    @field_validator("client_cert_match")
    @classmethod
    def _known_match(cls, value: str) -> str:
        if value not in {"staff_number", "subject", "serial"}:
            raise ValueError("BINGAN_CLIENT_CERT_MATCH must be staff_number, subject or serial")
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
    def resolved_import_root(self) -> Path:
        return (self.import_root or self.resolved_home / "imports").resolve()

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
