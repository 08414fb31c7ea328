"""The demo hospital's sealed records go through the sealing workflow (封存): 医务处 applies with
the patient (or a notary) and its own staff present, the record room approves, and the seal
package is queued for the worker — so the seal register shows them with their packages. Without
the demo accounts (``bingan ingest demo`` loads records only) the record is sealed plainly."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor
from bingan.records import lifecycle, workflows
from bingan.records.approvals import engine
from bingan.records.sealing import service
from bingan.storage.models import Record, User

DISPUTE = "患方对诊疗过程有异议，医患双方在场封存病历复制件"


def seal(session: Session, actor: Actor, record: Record, reason: str) -> None:
    affairs, archivist = (session.scalars(sa.select(User).where(User.username == name)).first()
                          for name in ("medaffairs", "archivist"))
    if affairs is None or archivist is None:
        lifecycle.seal(session, actor, record, reason)
        return
    workflows.install()  # the demo loads in its own process, which the web app's start-up did not set up
    form = service.SealForm(reason=reason, dispute=DISPUTE, parties=_parties(record, affairs), scope="record")
    applied = service.apply_seal(session, Actor.of(affairs), affairs, record, form)
    engine.decide(session, Actor.of(archivist), archivist, applied.request_id, "approve",
                  "医患双方在场，已核对封存范围")


def _parties(record: Record, affairs: User) -> list[dict]:
    patient = record.patient
    present = ({"role": "patient", "name": patient.name, "id_number": patient.id_number} if patient.id_number
               else {"role": "notary", "name": "周公证", "organisation": "市第一公证处"})
    return [present, {"role": "staff", "name": affairs.full_name or affairs.username, "organisation": "医务处"}]
