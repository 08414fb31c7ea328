"""Where the paper is (病案上架, C6): boxes with barcodes on shelf places (库房/架/层/位), records put
into boxes by scanning their label, every move logged, and one search by record number that
says which box and shelf holds each stay's paper."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.clock import iso
from bingan.errors import Conflict, NotFound, Refusal
from bingan.storage.models import Record
from bingan.storage.models.digitisation import MOVE_KINDS, PaperBox, PaperMove, PaperPlacement

BOX_PREFIX = "HX"  # 盒: box barcodes read apart from record labels at the scanner
BARCODE = re.compile(r"^[A-Za-z0-9-]{1,32}$")
MAX_LEVEL = 99


@dataclass(frozen=True)
class Place:
    room: str = ""
    rack: str = ""
    level: int | None = None
    position: int | None = None

    def check(self) -> Place:
        if len(self.room) > 64 or len(self.rack) > 32:
            raise Refusal("库房名称不超过 64 字，架号不超过 32 字")
        for value, what in ((self.level, "层"), (self.position, "位")):
            if value is not None and not 1 <= value <= MAX_LEVEL:
                raise Refusal(f"{what}应为 1–{MAX_LEVEL} 的整数")
        return Place(self.room.strip(), self.rack.strip(), self.level, self.position)


def place_text(box: PaperBox) -> str:
    """A shelf place as people say it: 一号库房 A架 3层 5位."""
    parts = [box.room, f"{box.rack}架" if box.rack else "", f"{box.level}层" if box.level else "",
             f"{box.position}位" if box.position else ""]
    return " ".join(part for part in parts if part) or "未上架"


def create_box(session: Session, actor: Actor, title: str, place: Place, barcode: str = "") -> PaperBox:
    """A new box; without a barcode of its own it gets HX + its number (a unique placeholder until
    the number is known)."""
    place, barcode = place.check(), barcode.strip()
    if barcode and not BARCODE.match(barcode):
        raise Refusal("盒条码只能由字母、数字和连字符组成，最长 32 位")
    if len(title) > 100:
        raise Refusal("盒名称不超过 100 字")
    box = PaperBox(barcode=barcode or uuid.uuid4().hex, title=title.strip(), room=place.room,
                   rack=place.rack, level=place.level, position=place.position)
    try:
        with session.begin_nested():
            session.add(box)
            session.flush()
    except IntegrityError:
        raise Conflict(f"盒条码“{barcode}”已被使用") from None
    if not barcode:
        box.barcode = f"{BOX_PREFIX}{box.id:06d}"
    record_event(session, actor, "paper.box", object_type="paper_box", object_id=box.id,
                 detail={"盒条码": box.barcode, "位置": place_text(box)})
    return box


def box_by_id(session: Session, box_id: int) -> PaperBox:
    box = session.get(PaperBox, box_id)
    if box is None:
        raise NotFound("病案盒不存在")
    return box


def box_by_barcode(session: Session, barcode: str) -> PaperBox:
    box = session.scalars(sa.select(PaperBox).where(PaperBox.barcode == barcode.strip())).one_or_none()
    if box is None:
        raise NotFound(f"找不到条码为“{barcode.strip()}”的病案盒")
    return box


def move_box(session: Session, actor: Actor, box: PaperBox, place: Place) -> PaperBox:
    """The box to another shelf place; the move is logged for the box and each record in it."""
    place = place.check()
    before = place_text(box)
    box.room, box.rack, box.level, box.position = place.room, place.rack, place.level, place.position
    after = place_text(box)
    if before == after:
        return box
    session.add(PaperMove(kind="box_moved", box_id=box.id, place_from=before, place_to=after,
                          actor_id=actor.user_id))
    record_event(session, actor, "paper.move", object_type="paper_box", object_id=box.id,
                 detail={"盒条码": box.barcode, "原位置": before, "新位置": after})
    return box


def record_by_label(session: Session, scanned: str) -> Record:
    """The record a scanned label (or typed number) names: 病案号-住院次数, or a record number
    with one stay only."""
    records = records_by_label(session, scanned)
    if len(records) > 1:
        raise Refusal(f"病案号 {records[0].record_number} 有 {len(records)} 次住院，"
                      "请扫描病案标签或输入“病案号-住院次数”")
    return records[0]


def records_by_label(session: Session, scanned: str) -> list[Record]:
    """The stays a scanned label or typed number names (several for a bare record number of a
    patient admitted more than once), in stay order; refused when there is none."""
    text = scanned.strip()
    number, _, stay = text.rpartition("-") if re.fullmatch(r".+-\d{1,3}", text) else (text, "", "")
    query = sa.select(Record).where(Record.record_number == number)
    if stay:
        query = query.where(Record.stay_number == int(stay))
    records = list(session.scalars(query.order_by(Record.stay_number)))
    if not records:
        raise NotFound(f"找不到病案“{text}”")
    return records


def put_into_box(session: Session, actor: Actor, box: PaperBox, record: Record) -> PaperPlacement:
    """The record's paper into this box (out of the box it was in, if any), logged."""
    placement = session.get(PaperPlacement, record.id)
    if placement is not None and placement.box_id == box.id:
        raise Conflict(f"病案 {record.record_number} 已在盒 {box.barcode} 中")
    if placement is not None:
        old = placement.box
        session.add(PaperMove(kind="out_of_box", record_id=record.id, box_id=old.id, place_from=place_text(old),
                              actor_id=actor.user_id))
        placement.box_id, placement.box = box.id, box
        placement.placed_by_id = actor.user_id
    else:
        placement = PaperPlacement(record_id=record.id, box_id=box.id, placed_by_id=actor.user_id)
        session.add(placement)
    session.add(PaperMove(kind="into_box", record_id=record.id, box_id=box.id, place_to=place_text(box),
                          actor_id=actor.user_id))
    session.flush()
    record_event(session, actor, "paper.move", object_type="record", object_id=record.id, record_id=record.id,
                 detail={"操作": "装盒", "盒条码": box.barcode, "位置": place_text(box)})
    return placement


def locations(session: Session, record_number: str) -> list[dict]:
    """Where each stay of this record number is on paper, with its moves (newest first)."""
    records = session.scalars(sa.select(Record).where(Record.record_number == record_number.strip())
                              .order_by(Record.stay_number)).all()
    return [_location(session, record) for record in records]


def _location(session: Session, record: Record) -> dict:
    placement = session.get(PaperPlacement, record.id)
    moves = session.scalars(sa.select(PaperMove).where(PaperMove.record_id == record.id)
                            .order_by(PaperMove.moved_at.desc(), PaperMove.id.desc())).all()
    return {
        "record_id": record.id, "record_number": record.record_number, "stay": record.stay_number,
        "box": box_json(placement.box) if placement else None,
        "location": place_text(placement.box) if placement else "未装盒",
        "placed_at": iso(placement.placed_at) if placement else None,
        "moves": [{"kind": m.kind, "kind_name": MOVE_KINDS[m.kind], "box_id": m.box_id, "from": m.place_from,
                   "to": m.place_to, "at": iso(m.moved_at),
                   "by": (m.actor.full_name or m.actor.username) if m.actor else ""} for m in moves],
    }


def box_json(box: PaperBox) -> dict:
    return {"box_id": box.id, "barcode": box.barcode, "title": box.title, "room": box.room, "rack": box.rack,
            "level": box.level, "position": box.position, "place": place_text(box)}


def all_boxes(session: Session) -> list[PaperBox]:
    return list(session.scalars(sa.select(PaperBox).order_by(PaperBox.room, PaperBox.rack, PaperBox.level,
                                                             PaperBox.position, PaperBox.barcode)))


def box_contents(session: Session, box: PaperBox) -> list[Record]:
    return list(session.scalars(sa.select(Record).join(PaperPlacement, PaperPlacement.record_id == Record.id)
                                .where(PaperPlacement.box_id == box.id).order_by(Record.record_number,
                                                                                 Record.stay_number)))
