"""Scoring standards as stored versions: the current one (the shipped default is stored on first
use), saving a new version (edited thresholds, an edited or imported table), choosing the version
new tasks use, and the xlsx form of a standard — read for an import with a preview, written for
download so a hospital edits its table in a spreadsheet and imports it back as a new version."""
from __future__ import annotations

import io
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.errors import NotFound, Refusal
from bingan.records.scoring import defaults, rules
from bingan.storage.models import User
from bingan.storage.models.scoring import ScoringStandard

MAX_XLSX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 1000
# The import's columns: the first four are required. 单项否决: 空, 扣分 (fixed) or 丙级 (grade).
HEADERS = ("项目", "项目分值", "评分内容", "每处扣分", "最多次数", "扣分上限", "单项否决", "否决扣分", "自检项")
REQUIRED = HEADERS[:4]
VETO_WORDS = {"": "", "否": "", "扣分": "fixed", "fixed": "fixed", "丙级": "grade", "丙": "grade", "grade": "grade"}
VETO_LABELS = {"": "", "fixed": "扣分", "grade": "丙级"}
THRESHOLD_SHEET = "等级"


def standard_of(row: ScoringStandard) -> rules.Standard:
    return rules.parse(row.sections, row.thresholds)


def current(session: Session) -> ScoringStandard:
    """The version new tasks use; the shipped default is stored (version 1) if there is none yet."""
    found = session.scalars(sa.select(ScoringStandard).where(ScoringStandard.current)
                            .order_by(ScoringStandard.id.desc()).limit(1)).first()
    if found is not None:
        return found
    found = session.scalars(sa.select(ScoringStandard).order_by(ScoringStandard.id.desc()).limit(1)).first()
    if found is not None:
        found.current = True
        return found
    sections, thresholds = rules.as_json(rules.parse(defaults.SECTIONS, defaults.THRESHOLDS))
    found = ScoringStandard(name=defaults.NAME, version=1, sections=sections, thresholds=thresholds, current=True,
                            origin="default", note="系统内置")
    session.add(found)
    session.flush()
    return found


def get(session: Session, standard_id: int) -> ScoringStandard:
    found = session.get(ScoringStandard, standard_id)
    if found is None:
        raise NotFound("评分标准不存在")
    return found


def listing(session: Session) -> list[ScoringStandard]:
    current(session)
    return list(session.scalars(sa.select(ScoringStandard).order_by(ScoringStandard.name,
                                                                     ScoringStandard.version.desc())))


def save_version(session: Session, actor: Actor, user: User | None, name: str, sections: list,
                 thresholds: dict | None, *, origin: str = "edit", note: str = "") -> ScoringStandard:
    """A new version (the next number under ``name``), checked, and made current; earlier
    versions stay as they were for the scores made with them."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Refusal("请填写评分标准名称（不超过100字）")
    standard = rules.parse(sections, thresholds)
    stored_sections, stored_thresholds = rules.as_json(standard)
    last = session.scalar(sa.select(sa.func.max(ScoringStandard.version)).where(ScoringStandard.name == name)) or 0
    for row in session.scalars(sa.select(ScoringStandard).where(ScoringStandard.current)):
        row.current = False
    row = ScoringStandard(name=name, version=last + 1, sections=stored_sections, thresholds=stored_thresholds,
                          current=True, origin=origin, note=note.strip()[:500],
                          created_by_id=user.id if user else None)
    session.add(row)
    session.flush()
    record_event(session, actor, "scoring.standard_save", object_type="scoring_standard", object_id=row.id,
                 detail={"名称": name, "版本": row.version, "来源": origin, "总分": standard.points,
                         "项目数": len(standard.sections), "等级": stored_thresholds})
    return row


def edit_thresholds(session: Session, actor: Actor, user: User, standard_id: int, first: float,
                    second: float) -> ScoringStandard:
    """New grade thresholds make a new version of the standard."""
    base = get(session, standard_id)
    return save_version(session, actor, user, base.name, base.sections, {"甲": first, "乙": second},
                        origin="edit", note=f"由第{base.version}版修改等级分数线")


def edit_table(session: Session, actor: Actor, user: User, standard_id: int, sections: list) -> ScoringStandard:
    """A table edited on screen makes a new version under the same name and thresholds."""
    base = get(session, standard_id)
    return save_version(session, actor, user, base.name, sections, base.thresholds, origin="edit",
                        note=f"由第{base.version}版在页面上修改")


def make_current(session: Session, actor: Actor, standard_id: int) -> ScoringStandard:
    chosen = get(session, standard_id)
    for row in session.scalars(sa.select(ScoringStandard).where(ScoringStandard.current)):
        row.current = False
    chosen.current = True
    record_event(session, actor, "scoring.standard_current", object_type="scoring_standard", object_id=chosen.id,
                 detail={"名称": chosen.name, "版本": chosen.version})
    return chosen


# --- xlsx ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Preview:
    name: str
    standard: rules.Standard

    def as_json(self) -> dict:
        sections, thresholds = rules.as_json(self.standard)
        return {"name": self.name, "points": self.standard.points, "sections": sections, "thresholds": thresholds,
                "items": len(self.standard.items())}


def read_xlsx(data: bytes, name: str = "") -> Preview:
    """An uploaded table as a checked standard, nothing saved: the preview. Refusal on a bad file."""
    if not data:
        raise Refusal("请选择要导入的 xlsx 文件")
    if len(data) > MAX_XLSX_BYTES:
        raise Refusal("文件超过 2 MB，评分标准表格不应这么大")
    rows, thresholds = _rows(data)
    header = [str(cell or "").strip() for cell in (rows[0] if rows else [])]
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        raise Refusal(f"表格第一行应为列名，缺少：{'、'.join(missing)}（列：{'、'.join(HEADERS)}）")
    where = {column: header.index(column) for column in HEADERS if column in header}
    sections: list[dict] = []
    for number, row in enumerate(rows[1:], start=2):
        cells = {column: _cell(row, index) for column, index in where.items()}
        if not any(str(value).strip() for value in cells.values() if value is not None):
            continue
        section_name = str(cells.get("项目") or "").strip()
        if section_name and (not sections or sections[-1]["name"] != section_name):
            sections.append({"name": section_name, "points": cells.get("项目分值"), "items": []})
        elif not sections:
            raise Refusal(f"第{number}行没有填写项目名称")
        elif cells.get("项目分值") not in (None, "") and _same(cells["项目分值"], sections[-1]["points"]) is False:
            raise Refusal(f"第{number}行的项目分值与该项目前面的行不一致")
        sections[-1]["items"].append(_item(cells, number))
    if not name.strip():
        name = "导入的评分标准"
    return Preview(name.strip()[:100], rules.parse(sections, thresholds or None))


def _rows(data: bytes) -> tuple[list[tuple], dict | None]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise Refusal("无法读取文件：请上传 Excel 2007 及以上版本的 xlsx 表格") from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows.append(row)
            if len(rows) > MAX_ROWS + 1:
                raise Refusal(f"表格超过{MAX_ROWS}行，评分标准不应这么多行")
        thresholds = None
        if THRESHOLD_SHEET in book.sheetnames:
            thresholds = {}
            for row in book[THRESHOLD_SHEET].iter_rows(values_only=True):
                if row and str(row[0] or "").strip() in ("甲", "乙") and len(row) > 1:
                    thresholds[str(row[0]).strip()] = row[1]
        return rows, thresholds
    except Refusal:
        raise
    except Exception:
        raise Refusal("表格内容无法读取，请检查文件是否损坏") from None
    finally:
        book.close()


def _cell(row: tuple, index: int) -> object:
    return row[index] if index < len(row) else None


def _same(a: object, b: object) -> bool | None:
    try:
        return float(str(a)) == float(str(b))
    except ValueError:
        return None


def _item(cells: dict, number: int) -> dict:
    veto_word = str(cells.get("单项否决") or "").strip()
    if veto_word not in VETO_WORDS:
        raise Refusal(f"第{number}行的单项否决应为空、“扣分”或“丙级”，收到“{veto_word[:20]}”")
    times = cells.get("最多次数")
    if times not in (None, ""):
        try:
            times = int(float(str(times)))
        except ValueError:
            raise Refusal(f"第{number}行的最多次数应为正整数") from None
    return {"text": cells.get("评分内容"), "deduction": cells.get("每处扣分") if cells.get("每处扣分") is not None
            else 0, "max_times": times or None, "cap": cells.get("扣分上限"), "veto": VETO_WORDS[veto_word],
            "veto_points": cells.get("否决扣分"), "check": cells.get("自检项") or ""}


def write_xlsx(row: ScoringStandard) -> bytes:
    """The standard in the import's layout (and its grade thresholds on the 等级 sheet)."""
    from bingan.formats.spreadsheet import Spreadsheet

    book = Spreadsheet()
    sheet = book.sheet("评分标准", HEADERS)
    for section in row.sections:
        for item in section["items"]:
            sheet.append([section["name"], section["points"], item["text"], item["deduction"],
                          item.get("max_times") or "", "" if item.get("cap") is None else item["cap"],
                          VETO_LABELS.get(item.get("veto") or "", ""),
                          item.get("veto_points") if item.get("veto") == "fixed" else "", item.get("check") or ""])
    grades = book.sheet(THRESHOLD_SHEET, ("等级", "最低分"))
    for grade, limit in row.thresholds.items():
        grades.append([grade, limit])
    return book.close()
