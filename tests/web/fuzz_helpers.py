"""What the fuzzing tests share: the database digest that proves a refusal changed nothing, the
Chinese check, a requests session for schemathesis, and the bounded, derandomized run."""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping

import requests
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from web_helpers import csrf_headers

from bingan.access import audit, audit_head
from bingan.storage.models import Base

CHINESE = re.compile(r"[\u4e00-\u9fff]")
ALL = ("*",)
# Written on purpose by refused requests too: the audit trail of a refusal, the session's last-seen time, and
# the statistics' per-record facts a reading request refreshes before it counts (a derived copy, not data).
EVERY_TIME: dict[str, Collection[str]] = {"audit_events": ALL, "web_sessions": ALL, "alembic_version": ALL,
                                          "record_facts": ALL, "record_facts_dirty": ALL}
AUDIT_KEYS = (audit.ANCHOR_KEY, audit_head.HEAD_KEY)
# Per operation and kind; BINGAN_FUZZ_EXAMPLES=200 digs deeper locally.
EXAMPLES = int(os.environ.get("BINGAN_FUZZ_EXAMPLES", "6"))
# A case's answer may take this long (schemathesis waits 10 s): on a busy shared machine a refusal
# behind an earlier case's background work took longer; a real hang still fails.
CALL_SECONDS = 60
FUZZ_SECONDS = 1200  # a whole fuzz run: ~4 min on a quiet machine, twice that on a busy one


def snapshot(engine: sa.Engine, on_purpose: Mapping[str, Collection[str]] = EVERY_TIME) -> dict[str, str]:
    """A digest of each table the application keeps, bar what a refusal writes on purpose:
    ``on_purpose`` maps a table to the columns left out, or to ``ALL`` for the whole table."""
    digests = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            skipped = on_purpose.get(table.name, ())
            if skipped is ALL:
                continue
            query = sa.select(*(column for column in table.columns if column.name not in skipped))
            if table.name == "system_settings":  # the audit chain's head moves with every audited refusal
                query = query.where(table.c.key.not_in(AUDIT_KEYS))
            rows = sorted(repr(tuple(row)) for row in conn.execute(query))
            digests[table.name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return digests


def changed_tables(before: dict[str, str], engine: sa.Engine,
                   on_purpose: Mapping[str, Collection[str]] = EVERY_TIME) -> list[str]:
    after = snapshot(engine, on_purpose)
    return [name for name in after if after[name] != before[name]]


class Digests:
    """The digests a fuzz run compares, one per case where two were: a refused case's digest
    after it is the next case's digest before (a digest is ~115 queries; most cases are refused)."""

    def __init__(self, engine: sa.Engine, on_purpose: Mapping[str, Collection[str]] = EVERY_TIME) -> None:
        self.engine, self.on_purpose = engine, on_purpose
        self._now: dict[str, str] | None = None

    def before(self) -> dict[str, str]:
        """The digest as the next case finds the database; an accepted case forgets it (it may write)."""
        taken, self._now = self._now or snapshot(self.engine, self.on_purpose), None
        return taken

    def changed_since(self, before: dict[str, str]) -> list[str]:
        self._now = snapshot(self.engine, self.on_purpose)
        return [name for name in self._now if self._now[name] != before[name]]


def session_of(client) -> requests.Session:
    """A requests session carrying the signed-in client's cookies and CSRF token."""
    session = requests.Session()
    for cookie in client.cookies.jar:
        session.cookies.set(cookie.name, cookie.value)
    session.headers.update(csrf_headers(client))
    return session


def header(response, name: str) -> str:
    """A header of a schemathesis response (a list per name) or of an httpx one (a string)."""
    value = response.headers.get(name) or ""
    return value[0] if isinstance(value, list) else value


def described(error: BaseException) -> str:
    """The error and, for Hypothesis' FlakyFailure (a group), what the first call failed with: the
    cause of a failure that did not repeat is what a reader needs."""
    text = f"{type(error).__name__}: {error}"
    for inner in getattr(error, "exceptions", ()):
        text += f"\n  first call: {type(inner).__name__}: {inner}"
    return text


def fuzz(strategy, check: Callable[[object], None], examples: int = EXAMPLES) -> None:
    """Run ``check`` on each generated case: bounded, derandomized, no example database."""
    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=strategy)
    def run(case):
        check(case)

    run()


def takes_input(operation) -> bool:
    """Whether anything can be sent wrong: no parameters and no body leave negative testing nothing."""
    definition = operation.definition.raw
    return bool(definition.get("parameters") or definition.get("requestBody"))


def strategies(operation, known: dict[str, int]) -> Iterator[tuple[str, object]]:
    """Valid input, invalid input, and valid input naming existing rows (``known`` path parameters)."""
    yield "positive", operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    if takes_input(operation):
        yield "negative", operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    if known:
        yield "existing ids", operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=known)
