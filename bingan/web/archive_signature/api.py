"""The archive signature JSON API: a record's signatures, and verification on demand."""
from __future__ import annotations

from fastapi import APIRouter, Request

from bingan.records.archive_signature import service
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models.archive_signature import ArchiveSignature
from bingan.web.deps import RecordAccess, record_gate

router = APIRouter(prefix="/api/v1", tags=["归档签章"])


def _view(signature: ArchiveSignature) -> dict:
    return {
        "id": signature.id, "signer": signature.signer_name, "adapter": signature.adapter,
        "documents": signature.documents, "signed_at": signature.signed_at.isoformat(),
        "timestamp_at": signature.timestamp_at.isoformat() if signature.timestamp_at else None,
        "timestamp_authority": signature.timestamp_authority or None,
        "manifest_sha256": signature.manifest_sha256, "signature_sha256": signature.signature_sha256,
        "checked_at": signature.checked_at.isoformat() if signature.checked_at else None,
        "check_result": signature.check_result or None,
    }


@router.get("/records/{record_id}/archive-signatures")
def signatures(access: RecordAccess = record_gate("view")) -> dict:
    """The record's archive signatures, the latest first (a re-archive after a recall adds one)."""
    return {"signatures": [_view(s) for s in service.signatures_of(access.ctx.session, access.record.id)]}


@router.post("/records/{record_id}/archive-signature/verify")
def verify(request: Request, access: RecordAccess = record_gate("view")) -> dict:
    """Verify the latest signature: signature, timestamp, manifest against the current files."""
    ctx = access.ctx
    verdict = service.verify_record(ctx.session, open_blob_store(request.app.state.settings), ctx.actor,
                                    access.record)
    return {"ok": verdict.ok, "problems": verdict.problems, "result": verdict.text(),
            "signature": _view(service.latest(ctx.session, access.record.id))}
