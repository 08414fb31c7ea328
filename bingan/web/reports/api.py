"""The archive-rate report as JSON (科室归档率, MER-TQ-01/02)."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from bingan import clock
from bingan.records.archive_rate import archive_rate
from bingan.web.deps import Ctx, permission

router = APIRouter(prefix="/api/v1", tags=["统计报表"])
FromMonth = Annotated[str | None, Query(alias="from", max_length=7, description="起始出院月份 YYYY-MM，缺省为本月")]
ToMonth = Annotated[str | None, Query(alias="to", max_length=7, description="截止出院月份 YYYY-MM，缺省同起始月份")]


@router.get("/reports/archive-rate", summary="科室归档率：时限内、2个工作日内（MER-TQ-01）、完整率（MER-TQ-02）")
def archive_rate_report(first: FromMonth = None, last: ToMonth = None,
                        basis: Literal["emr", "discharge_review"] = "emr",
                        ctx: Ctx = permission("reports.view")) -> dict:
    this_month = clock.now().strftime("%Y-%m")
    report = archive_rate(ctx.session, first or this_month, last or first or this_month, basis)
    ctx.audit("view", object_type="report", object_id="archive-rate",
              detail={"报表": "科室归档率", "月份": f"{report.first:%Y-%m}~{report.last:%Y-%m}", "口径": basis})
    return report.as_json()
