"""The self-service copy kiosk's fence and its visit (自助复印打印机, issue 15 item 4).

A user holding ``copy.kiosk`` is the kiosk PC's service account: whatever else it was given, it
reaches only the kiosk's pages under /kiosk, and the job API for the copy of the patient now at the
kiosk (deps.py asks ``fenced`` before every signed-in route). The patient at the kiosk (the visit)
lives in a signed cookie that expires on its own; the start page drops it, so 返回首页 and the
screen's idle timeout both leave nothing of the patient behind.
"""
from __future__ import annotations

import re

from fastapi import Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from bingan.records.release import kiosk

PERMISSION = "copy.kiosk"
HOME = "/kiosk"
VISIT_COOKIE = "bingan_kiosk_visit"
VISIT_SECONDS = 600  # a visit left without a step for ten minutes is over, whatever the screen does
ONLY_KIOSK = "自助机账号只能使用自助复印打印页面"
_JOB = re.compile(r"^/api/v1/jobs/(\d{1,10})$")


def _signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.secret, salt="bingan-kiosk-visit")


def read_visit(request: Request) -> kiosk.Visitor | None:
    """The patient at the kiosk, while the visit lasts."""
    cookie = request.cookies.get(VISIT_COOKIE, "")
    if not cookie:
        return None
    try:
        data = _signer(request).loads(cookie, max_age=VISIT_SECONDS)
    except BadSignature:
        return None
    return kiosk.Visitor(data["id"], data["name"], data.get("card") or {})


def keep_visit(request: Request, response: Response, visitor: kiosk.Visitor) -> Response:
    """Each step signs the visit again: ten minutes from the last step. Sent to the job API too,
    which the print screen polls."""
    value = _signer(request).dumps({"id": visitor.id_number, "name": visitor.name, "card": visitor.card})
    response.set_cookie(VISIT_COOKIE, value, max_age=VISIT_SECONDS, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


def end_visit(response: Response) -> Response:
    response.delete_cookie(VISIT_COOKIE, path="/")
    return response


def fenced(request: Request, session: Session, permissions: frozenset[str] | set[str]) -> str:
    """"" when the route may be reached; "home" when a kiosk account asks for the start page "/";
    "refused" for anything else a kiosk account asks."""
    if PERMISSION not in permissions:
        return ""
    path = request.url.path
    if path == HOME or path.startswith(HOME + "/"):
        return ""
    if path == "/":
        return "home"
    job = _JOB.match(path)
    visitor = read_visit(request) if job else None
    if job and visitor and kiosk.visitor_job(session, visitor.id_number, int(job.group(1))):
        return ""
    return "refused"
