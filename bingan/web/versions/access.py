"""What the comparison and review routes share: the gate on a version's record, the page renders."""
from __future__ import annotations

from fastapi import Request
from PIL import Image

from bingan.access.policy import decide_for
from bingan.records.versions import review
from bingan.storage.models import PendingChange, Record, Version
from bingan.web.deps import Ctx, Refused
from bingan.web.records.images import renderer


def reviewable_change(ctx: Ctx, version_id: int) -> PendingChange:
    """The pending change of a version, if the user may review changes of its record (review_change)."""
    change = review.change_of_version(ctx.session, version_id)
    record = ctx.session.get(Record, change.record_id)
    decision = decide_for(ctx.subject, "review_change", record, document=change.document)
    if not decision:
        ctx.audit("denied", object_type="version", object_id=version_id, record_id=record.id,
                  document_id=change.document_id, result="denied",
                  detail={"操作": "review_change", "原因": decision.reason_zh})
        ctx.session.commit()  # the refusal is audited even though the request fails
        raise Refused(decision.reason_zh)
    return change


def page_render(request: Request):
    """Base renders (no watermark: only boxes leave the server) of a version's page."""
    pages = renderer(request)

    def render(version: Version, number: int) -> Image.Image:
        return pages.base(version.sha256, version.media_type, number)
    return render
