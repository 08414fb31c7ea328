"""Security settings the security administrator edits (stored as the ``security`` system setting)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from sqlalchemy.orm import Session

from bingan.storage.system_settings import read_watched_setting, write_setting

KEY = "security"


@dataclass
class SecuritySettings:
    lockout_attempts: int = 5  # 等保: limit failed logins (assessors expect ~5)
    lockout_minutes: int = 10
    idle_minutes: int = 15  # 等保: idle sessions end after 5–15 minutes
    session_max_hours: int = 12  # a session ends this long after login, however active (one shift)
    address_failures: int = 10  # failed logins from one client address within address_minutes …
    address_minutes: int = 15  # … after which that address is refused before any password is checked
    password_max_age_days: int = 90  # 0 = never expires
    password_history: int = 5
    audit_retention_days: int = 180  # never below 180 (6 months)


def security_settings(session: Session) -> SecuritySettings:
    stored = read_watched_setting(session, KEY)
    known = {field.name for field in fields(SecuritySettings)}
    return SecuritySettings(**{key: value for key, value in stored.items() if key in known})


def save_security_settings(session: Session, values: SecuritySettings) -> None:
    values.audit_retention_days = max(180, values.audit_retention_days)
    values.lockout_attempts = max(1, values.lockout_attempts)
    values.session_max_hours = max(1, values.session_max_hours)
    values.address_failures = max(1, values.address_failures)
    values.address_minutes = max(1, values.address_minutes)
    write_setting(session, KEY, asdict(values))
