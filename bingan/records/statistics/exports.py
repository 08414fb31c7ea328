"""The records behind an indicator's number as a background job (后台导出): a year of a large
hospital is a million rows, minutes of writing — the worker writes the xlsx with progress, keeps it
(encrypted) in the blob store, and the user follows and downloads it on the job's page. Smaller
sets the page still sends at once (``DIRECT_ROWS``)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor
from bingan.records import jobs
from bingan.records.statistics import blocks, indicators, service
from bingan.storage.models import User
from bingan.storage.models.jobs import Job

DIRECT_ROWS = 20_000  # up to this many records the drill-down page downloads its xlsx at once
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def start_drill_export(session: Session, actor: Actor, owner: User, key: str, part: str, when: blocks.Period,
                       filters: blocks.Filters) -> Job:
    service.check_drillable(indicators.indicator_by_key(key), part)
    params = {"key": key, "part": part, "first": when.first.isoformat(), "last": when.last.isoformat(),
              "department": filters.department_id, "campus": filters.campus_id}
    return jobs.start(session, actor, EXPORT_JOB_CODE, params, owner=owner)


def run_drill_export(ctx: jobs.JobContext) -> None:
    params, session = ctx.params, ctx.session
    indicator = indicators.indicator_by_key(params["key"])
    when = blocks.period(params["first"], params["last"])
    filters = service.filters_of(params["department"], params["campus"])
    part = params["part"]
    total = session.execute(sa.select(sa.func.count()).select_from(
        indicators.drill_select(session, indicator, part, when, filters).subquery())).scalar_one()
    name = f"{indicator.code}-{indicators.PARTS[part]}-{when.first}-{when.last}.xlsx"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.xlsx"
        service.drill_xlsx(session, indicator, part, when, filters, path,
                           written=lambda done: ctx.progress(done, total, f"已写入 {done}/{total} 份病案"))
        ctx.progress(total, total, "正在保存文件")
        ctx.store_result(path, name, XLSX)


EXPORT_JOB_CODE = "statistics_drill_export"
EXPORT_JOB = jobs.JobKind(EXPORT_JOB_CODE, "指标病案明细导出", run_drill_export)
