"""The bulk lookup JSON API (Z1): numbers in, found (openable or not), missing and how each matched."""
from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from bingan.web.deps import Ctx, permission
from bingan.web.lookup.service import check_count, run_lookup, shown_rows

router = APIRouter(prefix="/api/v1", tags=["病案 API"])


class LookupRequest(BaseModel):
    numbers: list[str] = Field(..., description="病案号、别名或住院号")


@router.post("/lookup", summary="批量查询病案号", responses={400: {"description": "病案号过多或为空"}})
def lookup(body: LookupRequest, ctx: Ctx = permission("lookup.use")) -> dict:
    numbers = [n.strip() for n in body.numbers if n and n.strip()]
    check_count(numbers)
    result, openable = run_lookup(ctx, numbers)
    return {
        "found": {asked: [{"record_id": r.record_id, "record_number": r.record_number, "stay": r.stay,
                           "openable": r.record_id in openable} for r in refs]
                  for asked, refs in result.found.items()},
        "missing": result.missing, "via_alias": result.via_alias,
        "matched": {row.asked: row.via or "病案号" for row in shown_rows(result, openable)},
    }
