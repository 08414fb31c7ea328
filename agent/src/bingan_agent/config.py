"""The agent's configuration (TOML): where Bingan is, the device's push key, the folder to watch
and how file names map to record number, stay and category."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATTERNS = ("*.pdf", "*.ofd", "*.jpg", "*.jpeg", "*.png", "*.tif", "*.tiff", "*.xml")


class ConfigError(Exception):
    """A configuration the agent cannot run with; the message says what to fix (Chinese)."""


@dataclass(frozen=True)
class Mapping:
    """A file-name rule: a regular expression with named groups record_number (required), stay,
    category and title; ``category`` is used when the expression has no category group."""

    pattern: re.Pattern
    category: str = ""
    stay: int = 1


@dataclass(frozen=True)
class Config:
    server: str
    device_key: str
    watch: Path
    state_dir: Path
    mappings: tuple[Mapping, ...]
    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    default_category: str = "default"
    poll_seconds: float = 5.0
    stable_seconds: float = 5.0
    timeout_seconds: float = 60.0
    max_backoff_seconds: float = 600.0
    certificate: Path | None = None
    certificate_key: Path | None = None

    @property
    def queue_path(self) -> Path:
        return self.state_dir / "queue.sqlite3"

    @property
    def key_path(self) -> Path:
        return self.state_dir / "device-key.pem"


def load(path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"找不到配置文件 {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"配置文件 {path} 格式错误：{exc}") from exc
    base = path.resolve().parent
    for key in ("server", "device_key", "watch"):
        if not str(data.get(key, "")).strip():
            raise ConfigError(f"配置文件缺少 {key}")
    signing = data.get("signing", {})
    return Config(
        server=str(data["server"]).rstrip("/"), device_key=str(data["device_key"]).strip(),
        watch=base / str(data["watch"]), state_dir=base / str(data.get("state_dir", "state")),
        mappings=tuple(_mapping(rule) for rule in data.get("mapping", [])),
        patterns=tuple(data.get("patterns", DEFAULT_PATTERNS)),
        default_category=str(data.get("default_category", "default")),
        poll_seconds=float(data.get("poll_seconds", 5)), stable_seconds=float(data.get("stable_seconds", 5)),
        timeout_seconds=float(data.get("timeout_seconds", 60)),
        max_backoff_seconds=float(data.get("max_backoff_seconds", 600)),
        certificate=base / signing["certificate"] if signing.get("certificate") else None,
        certificate_key=base / signing["key"] if signing.get("key") else None,
    )


def _mapping(rule: dict) -> Mapping:
    try:
        pattern = re.compile(str(rule["pattern"]))
    except KeyError as exc:
        raise ConfigError("[[mapping]] 缺少 pattern") from exc
    except re.error as exc:
        raise ConfigError(f"[[mapping]] 的正则表达式 {rule['pattern']!r} 无效：{exc}") from exc
    if "record_number" not in pattern.groupindex:
        raise ConfigError(f"[[mapping]] {pattern.pattern!r} 须含命名分组 (?P<record_number>…)")
    return Mapping(pattern=pattern, category=str(rule.get("category", "")), stay=int(rule.get("stay", 1)))


@dataclass(frozen=True)
class Filing:
    """Where a report is filed: record number, stay, category code and title."""

    record_number: str
    stay: int
    category: str
    title: str


def filing_for(config: Config, name: str) -> Filing | None:
    """The first mapping matching the file name, or None (the file waits as 未匹配)."""
    for mapping in config.mappings:
        found = mapping.pattern.search(name)
        if found is None:
            continue
        groups = {key: value for key, value in found.groupdict().items() if value}
        stay = groups.get("stay", "")
        return Filing(record_number=groups["record_number"].strip(),
                      stay=int(stay) if stay.isdigit() else mapping.stay,
                      category=groups.get("category") or mapping.category or config.default_category,
                      title=groups.get("title") or Path(name).stem)
    return None
