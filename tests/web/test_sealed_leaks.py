"""Nothing of a sealed record leaks (M3): a record sealed through the API (apply + approve, its
package built) is looked for in the answer of EVERY route of the app as EVERY role — pages, JSON,
redirects, exports (xlsx and PDF bodies opened), search and lookup queries for its number, its
patient, its document's title and text. Only seal managers' own sealing routes (the register, the
seal page, the package and the seal list) may name it.

Before sealing, every role reads the record and favourites it where it may, and a clinician's
borrowing of it is open, so histories, favourites, to-dos and request lists all had it."""
from __future__ import annotations

import io
import re
import sys
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "sealing"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import formats_gen
from sealing_support import api_call, build_packages, seal_through_api
from web_helpers import csrf_of
from world import ROLES, store_pdf

from bingan import broker
from bingan.access.permissions import ROLE_DEFAULTS
from bingan.storage.db import session_factory
from bingan.storage.models import Document, DocumentType, Page, Record, Version
from bingan.storage.models.jobs import Job
from bingan.storage.models.sealing import Seal
from bingan.web.routes import route_table

PATIENT = "欧阳秘封"
TITLE = "医患纠纷专项讨论记录"
TEXT = "吻合口瘘二次手术知情谈话"
PARAMETER = re.compile(r"\{(\w+)\}")
SKIP = {("POST", "/logout")}
AUDIT = {"audit.read", "audit.export"}
# Seal managers' own routes: where a sealed record is named, to those who manage seals.
SEAL_MANAGER_PATHS = {"/sealing", "/sealing/{seal_id}", "/api/v1/seals", "/api/v1/seals/{seal_id}",
                      "/api/v1/records/{record_id}/seal-package", "/api/v1/records/{record_id}/seal-list"}


@pytest.fixture
def disputed(web_engine, world) -> dict:
    """The record to seal gets its own patient name and a document of its own (title and text
    found nowhere else), before the app indexes the world."""
    with session_factory(web_engine)() as session, session.begin():
        record = session.get(Record, world.records["normal"].id)
        record.patient.name = PATIENT
        doc_type = session.scalars(sa.select(DocumentType).where(DocumentType.name == "入院记录")).one()
        data = formats_gen.text_pdf([[TITLE, f"{PATIENT} {TEXT}"]], title=TITLE)
        document = Document(record=record, document_type=doc_type, title=TITLE, source_system="EMR",
                            source_document_id="leak-1")
        version = Version(document=document, number=1, sha256=store_pdf(data, record.record_number), size=len(data),
                          media_type="application/pdf", filename="leak.pdf", page_count=1)
        version.pages = [Page(number=1, text=f"{TITLE}\n{PATIENT} {TEXT}")]
        session.add(version)
        session.flush()
        document.current_version = version
        return {"record_id": record.id, "document_id": document.id, "version_id": version.id,
                "needles": [record.record_number, PATIENT, TITLE, TEXT, record.patient.id_number]}


@pytest.fixture
def clients(disputed, app, client_for, monkeypatch) -> dict[str, TestClient]:
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())
    return {role: client_for(role) for role in ROLES}


def _before_sealing(clients: dict[str, TestClient], disputed: dict) -> None:
    """Everyone who may reads the record and its page, and favourites it; a borrowing is open."""
    record_id, document_id = disputed["record_id"], disputed["document_id"]
    for client in clients.values():
        client.get(f"/records/{record_id}")
        client.get(f"/documents/{document_id}/pages/1")
        api_call(client, "PUT", f"/api/v1/records/{record_id}/favourite", on=True)
    page = clients["clinician"].get(f"/records/{record_id}")
    assert page.status_code == 200


def _sealed(web_engine, clients, disputed) -> dict:
    _before_sealing(clients, disputed)
    request_id = seal_through_api(clients.__getitem__, disputed["record_id"])
    assert build_packages(web_engine) == ["done"]
    with session_factory(web_engine)() as session:
        seal = session.scalars(sa.select(Seal)).one()
        job = session.scalars(sa.select(Job.id)).first()
        return {**disputed, "approval_id": request_id, "seal_id": seal.id, "job_id": job,
                "attachment_id": 1, "item_id": 1}


def _url(path: str, ids: dict) -> str:
    def fill(match: re.Match) -> str:
        name = match.group(1)
        return "1" if name == "number" else str(ids.get(name, 1))
    return PARAMETER.sub(fill, path)


def _control(needle: str) -> str:
    """A term shaped like the needle (digits for a number) that matches nothing: what a route
    echoes of any query of that shape."""
    return "9" * len(needle) if needle.isdigit() else "查无此词甲乙丙丁戊己庚辛壬癸"[:len(needle)]


def _asks(needles: list[str]) -> list[dict[str, str]]:
    """Queries under the names search, lookup and list routes read: the number and the patient,
    then the document's title and text."""
    number, patient, title, text = needles[:4]
    return [{"q": number, "numbers": number, "number": number, "record_number": number, "name": patient,
             "patient_name": patient},
            {"q": title, "text": text, "title": title, "keyword": text}]


def _query(ask: dict[str, str], control: bool = False) -> str:
    return "&".join(f"{name}={quote(_control(term) if control else term)}" for name, term in ask.items())


def _bodies(response) -> list[bytes]:
    """The answer as text to search: headers, the body, and the inside of xlsx/zip and PDF files."""
    body = response.content
    parts = [str(response.headers).encode(), body]
    if body.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            parts += [archive.read(name) for name in archive.namelist()]
    if body.startswith(b"%PDF"):
        from bingan.formats.document import open_document
        with open_document(body, "application/pdf") as document:
            parts += [page.text.encode() for page in document.page_texts(ocr=False)]
    return parts


def _found(response, needle: str) -> int:
    return sum(part.count(needle.encode()) for part in _bodies(response))


def _leaks(response, needles: list[str]) -> list[str]:
    found = [needle for needle in needles if _found(response, needle)]
    if response.headers.get("content-type", "").startswith("image/") and response.status_code == 200:
        found.append("an image")
    return found


def _exempt(role: str, path: str) -> bool:
    return path in SEAL_MANAGER_PATHS and "seal.manage" in ROLE_DEFAULTS[role]


def _ask(client: TestClient, method: str, url: str, token: str):
    return client.request(method, url, data={} if method != "GET" else None, headers={"X-CSRF-Token": token},
                          follow_redirects=False)


def _cases(app):
    for rule in route_table(app):
        if rule.kind in {"framework", "apikey", "public"}:
            continue
        for method in sorted(set(rule.methods) - {"HEAD"}):
            if (method, rule.path) not in SKIP:
                yield rule, method


def _walk(app, clients: dict[str, TestClient], ids: dict) -> list[str]:
    """Every route as every role; then every list, search and lookup (GET without a path
    parameter) asked for the needles. Audit views are left out of the second pass: they show
    what the first pass and the searches of the second asked for, the asking users' own words."""
    needles = ids["needles"]
    tokens = {role: csrf_of(client.get("/settings").text) for role, client in clients.items()}
    leaks, listing = [], []
    for rule, method in _cases(app):
        url = _url(rule.path, ids)
        for role, client in clients.items():
            if _exempt(role, rule.path):
                continue
            answer = _ask(client, method, url, tokens[role])
            found = _leaks(answer, needles)
            if "{" not in rule.path:
                found = [needle for needle in found if needle != "an image"]  # the logo, the favicon
                if method == "GET" and answer.status_code == 200 and rule.detail not in AUDIT:
                    listing.append((url, role))
            if found or answer.status_code >= 500:
                leaks.append(f"{method} {url} as {role}: {answer.status_code} {found}")
    for url, role in listing:
        for ask in _asks(needles):
            answer = _ask(clients[role], "GET", f"{url}?{_query(ask)}", tokens[role])
            found = [needle for needle in set(ask.values()) if _found(answer, needle)]
            if found:  # more than the echo of a query of the same shape?
                echo = _ask(clients[role], "GET", f"{url}?{_query(ask, control=True)}", tokens[role])
                found = [needle for needle in found if _found(answer, needle) > _found(echo, _control(needle))]
            if found:
                leaks.append(f"GET {url}?{_query(ask)} as {role}: {sorted(found)}")
    return leaks


@pytest.mark.timeout(900)  # about 4,000 requests: every route as every role, and the queries
def test_no_route_answers_anything_of_a_sealed_record_to_any_role(app, web_engine, clients, disputed):
    ids = _sealed(web_engine, clients, disputed)
    leaks = _walk(app, clients, ids)
    assert leaks == [], "\n".join(leaks)


def test_seal_managers_still_find_it_on_the_register(web_engine, clients, disputed):
    ids = _sealed(web_engine, clients, disputed)
    register = clients["medical_affairs"].get("/sealing")
    assert ids["needles"][0] in register.text and PATIENT in register.text
