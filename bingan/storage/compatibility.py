"""What the configured database must support, checked against the server itself (bingan db-check).

Bingan's PostgreSQL path keeps to what PostgreSQL-compatible domestic databases (openGauss,
KingbaseES, and others built on them) are documented to offer; where a statement goes beyond
plain SQL it is listed here with what needs it, and each is run against the server, so a hospital
can learn in one command whether its database carries Bingan — before installing, and after every
database upgrade. Each probe runs in a transaction that is rolled back: nothing is written.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy import Engine


@dataclass(frozen=True)
class Probe:
    name: str
    needed_by: str
    statements: tuple[str, ...]
    required: bool = True


@dataclass(frozen=True)
class Outcome:
    probe: Probe
    ok: bool
    detail: str


POSTGRESQL = (
    Probe("聚合 FILTER 子句", "归档率报表、统计报表与质控指标",
          ("SELECT count(*) FILTER (WHERE x > 1) FROM (VALUES (1), (2)) AS t(x)",)),
    Probe("= ANY(数组参数)", "批量病案号查询",
          ("SELECT 'a' = ANY(CAST(ARRAY['a', 'b'] AS VARCHAR[]))",)),
    Probe("事务级咨询锁 pg_advisory_xact_lock", "审计日志哈希链的封链、统计事实表的刷新",
          ("SELECT pg_advisory_xact_lock(727272)",)),
    Probe("SELECT … FOR UPDATE SKIP LOCKED", "采集完成触发的轮次认领",
          ("CREATE TEMPORARY TABLE bingan_probe (id INTEGER PRIMARY KEY) ON COMMIT DROP",
           "INSERT INTO bingan_probe VALUES (1)",
           "SELECT id FROM bingan_probe FOR UPDATE SKIP LOCKED")),
    Probe("UPDATE … RETURNING", "采集流水线的状态推进",
          ("CREATE TEMPORARY TABLE bingan_probe_r (id INTEGER, state VARCHAR(16)) ON COMMIT DROP",
           "INSERT INTO bingan_probe_r VALUES (1, 'new')",
           "UPDATE bingan_probe_r SET state = 'done' WHERE id = 1 RETURNING state")),
    Probe("PL/pgSQL 行级触发器", "统计事实表的待刷新标记（迁移 0043）",
          ("CREATE TEMPORARY TABLE bingan_probe_t (id INTEGER) ON COMMIT DROP",
           "CREATE TEMPORARY TABLE bingan_probe_m (id INTEGER) ON COMMIT DROP",
           "CREATE FUNCTION pg_temp.bingan_probe_mark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
           "INSERT INTO bingan_probe_m (id) VALUES (NEW.id); RETURN NULL; END $$",
           "CREATE TRIGGER bingan_probe_trigger AFTER INSERT ON bingan_probe_t FOR EACH ROW "
           "EXECUTE FUNCTION pg_temp.bingan_probe_mark()",
           "INSERT INTO bingan_probe_t VALUES (1)")),
    Probe("ILIKE", "用户管理的姓名、工号检索", ("SELECT 'ABC' ILIKE 'a%'",)),
    Probe("时区换算 AT TIME ZONE 'Asia/Shanghai'", "按医院时区计日的报表",
          ("SELECT CAST('2026-03-01 16:30:00+00' AS TIMESTAMPTZ) AT TIME ZONE 'Asia/Shanghai'",
           "SELECT timezone('Asia/Shanghai', CAST('2026-03-01 16:30:00+00' AS TIMESTAMPTZ))")),
    Probe("to_char(…, 'YYYY-MM')", "统计报表按月分组",
          ("SELECT to_char(CAST('2026-03-01 00:00:00' AS TIMESTAMP), 'YYYY-MM')",)),
    Probe("JSON 取值 ->>", "病案首页字段（输血、手术）的统计",
          ("SELECT CAST('{\"输血\": \"是\"}' AS JSON) ->> '输血'",)),
    Probe("SET LOCAL jit", "归档率报表关闭 JIT 编译（不支持时自动跳过）",
          ("SET LOCAL jit = off",), required=False),
)

SQLITE = (
    Probe("聚合 FILTER 子句（SQLite ≥ 3.30）", "归档率报表、统计报表与质控指标",
          ("SELECT count(*) FILTER (WHERE value > 1) FROM json_each('[1, 2]')",)),
    Probe("json_each（JSON1）", "批量病案号查询", ("SELECT value FROM json_each('[\"a\"]')",)),
    Probe("RETURNING（SQLite ≥ 3.35）", "采集流水线的状态推进",
          ("CREATE TEMPORARY TABLE bingan_probe_r (id INTEGER, state TEXT)",
           "INSERT INTO bingan_probe_r VALUES (1, 'new')",
           "UPDATE bingan_probe_r SET state = 'done' WHERE id = 1 RETURNING state")),
    Probe("WAL 日志模式", "多进程同时读写", ("PRAGMA journal_mode",)),
    Probe("触发器", "统计事实表的待刷新标记（迁移 0043）",
          ("CREATE TEMPORARY TABLE bingan_probe_t (id INTEGER)",
           "CREATE TEMPORARY TABLE bingan_probe_m (id INTEGER)",
           "CREATE TEMPORARY TRIGGER bingan_probe_trigger AFTER INSERT ON bingan_probe_t "
           "BEGIN INSERT INTO bingan_probe_m (id) VALUES (NEW.id); END",
           "INSERT INTO bingan_probe_t VALUES (1)")),
)


def probes_for(engine: Engine) -> tuple[Probe, ...]:
    return SQLITE if engine.dialect.name == "sqlite" else POSTGRESQL


def server_version(engine: Engine) -> str:
    query = "SELECT 'SQLite ' || sqlite_version()" if engine.dialect.name == "sqlite" else "SELECT version()"
    with engine.connect() as connection:
        return str(connection.scalar(sa.text(query)))


def check(engine: Engine) -> list[Outcome]:
    """Each probe of the engine's kind run against it, in its own rolled-back transaction."""
    return [_run(engine, probe) for probe in probes_for(engine)]


def _run(engine: Engine, probe: Probe) -> Outcome:
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            answer = None
            for statement in probe.statements:
                result = connection.execute(sa.text(statement))
                answer = result.first() if result.returns_rows else None
        except sa.exc.DBAPIError as error:
            return Outcome(probe, False, str(error.orig).strip().splitlines()[0][:200])
        finally:
            transaction.rollback()
    return Outcome(probe, True, "" if answer is None else str(answer[0]))


def has_setting(engine: Engine, name: str) -> bool:
    """Whether the PostgreSQL-compatible server knows the run-time setting ``name`` (``jit`` came
    with PostgreSQL 11; openGauss has none), read once per engine."""
    return name in _settings_of(engine)


@lru_cache(maxsize=8)
def _settings_of(engine: Engine) -> frozenset[str]:
    with engine.connect() as connection:
        return frozenset(connection.scalars(sa.text("SELECT name FROM pg_settings")))
