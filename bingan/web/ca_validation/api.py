"""The record's document signatures as JSON: local verdicts and the latest online checks."""
from __future__ import annotations

from fastapi import APIRouter

from bingan.access.policy import decide_for
from bingan.clock import iso
from bingan.records.ca_validation import service
from bingan.storage.models.ca_validation import SignatureCheck
from bingan.web.deps import RecordAccess, record_gate

router = APIRouter(prefix="/api/v1", tags=["联机验证"])


def _online(check: SignatureCheck | None) -> dict | None:
    if check is None:
        return None
    return {"method": check.method, "status": check.status, "text": service.online_label(check),
            "reason": check.reason or None, "responder": check.responder or None,
            "certificate_serial": check.certificate_serial, "certificate_subject": check.certificate_subject,
            "certificate_sha256": check.certificate_sha256, "revoked_at": iso(check.revoked_at),
            "revocation_reason": check.revocation_reason or None, "this_update": iso(check.this_update),
            "next_update": iso(check.next_update), "checked_at": iso(check.checked_at)}


@router.get("/records/{record_id}/document-signatures")
def document_signatures(access: RecordAccess = record_gate("view")) -> dict:
    """Each signed document the user may view: its signatures, local verdict and online check."""
    ctx, record = access.ctx, access.record
    found = service.record_signatures(
        ctx.session, record.id, lambda d: bool(decide_for(ctx.subject, "view", record, document=d)))
    return {"documents": [{
        "document_id": item.document.id, "title": item.document.title, "version": item.version.number,
        "signatures": [{"signer": line.signer, "kind": line.kind, "signed_at": line.signed_at,
                        "local": line.local, "online": _online(line.online)} for line in item.lines],
    } for item in found]}
