"""The hospital's copy rules as data (J2, J3, J5): packages (套餐), applicant types with the papers
each must show (2013 规定 art. 17–20), which categories outside applicants may have (art. 19:
``Category.copyable``), whether stage copying is allowed (art. 21), the fee rules, and the URL
of the ID-card reader bridge. Packages and applicant types are rows (seeded by migration 0018);
the rest is one system setting edited on the copy-rules page (copy.manage).

Money is kept in fen (分, integers): a fee is exact, never a float.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bingan.access.audit import Actor, record_event
from bingan.errors import NotFound, Refusal
from bingan.storage.models import Category
from bingan.storage.models.release import CopyApplicantType, CopyPackage
from bingan.storage.system_settings import read_setting, write_setting

SETTING = "copy_rules"
DEFAULT_READER = "http://127.0.0.1:18090"
MAX_FEN = 1_000_000  # 10 000 元: beyond any per-page or per-record fee


@dataclass(frozen=True)
class FeeRules:
    """收费标准 (fen). ``page_fen`` per page of each copy; ``copy_fen`` per copy of each record
    (装订); ``retrieval_fen`` once per record (调档费); ``stage_fen`` per record copied in stages;
    pages of ``free_categories`` are copied free (e.g. 出院记录 for follow-up care)."""

    page_fen: int = 50
    copy_fen: int = 0
    retrieval_fen: int = 500
    stage_fen: int = 0
    free_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class CopyRules:
    fees: FeeRules = field(default_factory=FeeRules)
    stage_copying: bool = False  # 阶段复印: unarchived records may be copied (art. 21)
    card_reader_url: str = DEFAULT_READER
    # 自助机手工输入: the kiosk takes a typed ID number and name instead of the card. Off: whoever knows a
    # person's number and name could print that person's records; the card on the reader proves more.
    kiosk_typed_entry: bool = False


def copy_rules(session: Session) -> CopyRules:
    stored = read_setting(session, SETTING)
    fees = stored.get("fees") or {}
    return CopyRules(
        fees=FeeRules(**{key: int(fees[key]) for key in ("page_fen", "copy_fen", "retrieval_fen", "stage_fen")
                         if key in fees}, free_categories=tuple(fees.get("free_categories") or ())),
        stage_copying=bool(stored.get("stage_copying", False)),
        card_reader_url=str(stored.get("card_reader_url") or DEFAULT_READER),
        kiosk_typed_entry=bool(stored.get("kiosk_typed_entry", False)))


def save_copy_rules(session: Session, actor: Actor, rules: CopyRules) -> CopyRules:
    """Checked in full, then stored and audited."""
    for name, value in asdict(rules.fees).items():
        if name != "free_categories" and not 0 <= value <= MAX_FEN:
            raise Refusal(f"收费标准“{FEE_NAMES[name]}”应在 0 至 {MAX_FEN // 100} 元之间")
    unknown = set(rules.fees.free_categories) - set(category_names(session))
    if unknown:
        raise Refusal(f"免费分类不存在：{'、'.join(sorted(unknown))}")
    url = urlsplit(rules.card_reader_url)
    if url.scheme not in ("http", "https") or not url.hostname or url.path not in ("", "/"):
        raise Refusal("读卡器地址应为 http://主机:端口，例如 http://127.0.0.1:18090")
    value = {"fees": {**asdict(rules.fees), "free_categories": list(rules.fees.free_categories)},
             "stage_copying": rules.stage_copying, "card_reader_url": rules.card_reader_url.rstrip("/"),
             "kiosk_typed_entry": rules.kiosk_typed_entry}
    write_setting(session, SETTING, value)
    record_event(session, actor, "copy.rules_change", object_type="copy_rules", detail=value)
    return copy_rules(session)


FEE_NAMES = {"page_fen": "复印费（每页）", "copy_fen": "装订费（每份）", "retrieval_fen": "调档费（每份病案）",
             "stage_fen": "阶段复印加收（每份病案）"}


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def parse_yuan(text: str, what: str) -> int:
    """"0.5" → 50 fen; refuses more than two decimals or a negative amount."""
    raw = (text or "0").strip()
    whole, _, cents = raw.partition(".")
    if not whole.isdigit() or (cents and (not cents.isdigit() or len(cents) > 2)):
        raise Refusal(f"{what}应为金额（元，最多两位小数），例如 0.50")
    return int(whole) * 100 + int(cents.ljust(2, "0") or 0)


# --- packages and applicant types ------------------------------------------------------------

def packages(session: Session, *, active_only: bool = True) -> list[CopyPackage]:
    query = sa.select(CopyPackage).order_by(CopyPackage.sort_order, CopyPackage.id)
    return list(session.scalars(query.where(CopyPackage.active.is_(True)) if active_only else query))


def package_by_code(session: Session, code: str) -> CopyPackage:
    found = session.scalars(sa.select(CopyPackage).where(
        sa.or_(CopyPackage.code == code, CopyPackage.name == code), CopyPackage.active.is_(True))).first()
    if found is None:
        raise Refusal(f"复印套餐“{code}”不存在或已停用")
    return found


def save_package(session: Session, actor: Actor, code: str, name: str, categories: list[str], copies: int,
                 active: bool = True) -> CopyPackage:
    code, name = code.strip(), name.strip()
    if not code or len(code) > 32 or not code.replace("_", "").replace("-", "").isalnum():
        raise Refusal("套餐代码应为不超过32位的字母、数字、下划线")
    if not name or len(name) > 100:
        raise Refusal("请填写套餐名称（不超过100字）")
    if not 1 <= copies <= 20:
        raise Refusal("份数应为 1 至 20")
    unknown = set(categories) - set(category_names(session))
    if unknown:
        raise Refusal(f"分类不存在：{'、'.join(sorted(unknown))}")
    package = session.scalars(sa.select(CopyPackage).where(CopyPackage.code == code)).first()
    if package is None:
        package = CopyPackage(code=code, sort_order=10 * (len(packages(session, active_only=False)) + 1))
        session.add(package)
    package.name, package.categories, package.copies, package.active = name, sorted(set(categories)), copies, active
    session.flush()
    record_event(session, actor, "copy.package_save", object_type="copy_package", object_id=package.id,
                 detail={"套餐": name, "分类": package.categories, "份数": copies, "启用": active})
    return package


def applicant_types(session: Session, *, active_only: bool = True) -> list[CopyApplicantType]:
    query = sa.select(CopyApplicantType).order_by(CopyApplicantType.sort_order, CopyApplicantType.id)
    return list(session.scalars(query.where(CopyApplicantType.active.is_(True)) if active_only else query))


def applicant_type(session: Session, code: str) -> CopyApplicantType:
    code = (code or "").strip()
    found = session.scalars(sa.select(CopyApplicantType).where(
        sa.or_(CopyApplicantType.code == code, CopyApplicantType.name == code),
        CopyApplicantType.active.is_(True))).first()
    if found is None:
        names = "、".join(f"{kind.code}（{kind.name}）" for kind in applicant_types(session))
        raise Refusal(f"申请人类型应为：{names}")
    return found


def set_applicant_type(session: Session, actor: Actor, code: str, *, free: bool, outside: bool,
                       papers: list[str]) -> CopyApplicantType:
    """What an applicant type must show (one paper name a line) and whether it pays."""
    kind = session.scalars(sa.select(CopyApplicantType).where(CopyApplicantType.code == code)).first()
    if kind is None:
        raise NotFound("申请人类型不存在")
    names = [name.strip() for name in papers if name.strip()]
    if len(names) > 12 or any(len(name) > 100 for name in names):
        raise Refusal("所需材料最多12项，每项不超过100字")
    known = {paper["name"]: paper["code"] for paper in kind.papers}
    kind.papers = [{"code": known.get(name, f"paper{number}"), "name": name} for number, name in enumerate(names, 1)]
    kind.free, kind.outside = free, outside
    record_event(session, actor, "copy.applicant_type_save", object_type="copy_applicant_type", object_id=kind.id,
                 detail={"类型": kind.name, "材料": names, "免费": free, "仅可复印部分": outside})
    return kind


def category_names(session: Session) -> dict[str, str]:
    """code → name of the active categories, in filing order."""
    return dict(session.execute(sa.select(Category.code, Category.name).where(Category.active.is_(True))
                                .order_by(Category.filing_order)).all())


def copyable_categories(session: Session) -> set[str]:
    return set(session.scalars(sa.select(Category.code).where(Category.copyable.is_(True))))


def set_copyable_categories(session: Session, actor: Actor, codes: list[str]) -> set[str]:
    """The art. 19 list (患方可复印部分): exactly these active categories are copyable by outside
    applicants. An empty list is refused: it would leave patients nothing to copy by mistake."""
    names = category_names(session)
    chosen = set(resolve_categories(session, codes)) if codes else set()
    if not chosen:
        raise Refusal("请至少选择一个可复印分类（2013 规定第十九条）")
    before = copyable_categories(session) & set(names)
    for category in session.scalars(sa.select(Category).where(Category.code.in_(list(names)))):
        category.copyable = category.code in chosen
    session.flush()
    record_event(session, actor, "copy.copyable_change", object_type="copy_rules",
                 detail={"可复印分类": [names[code] for code in names if code in chosen],
                         "新增": [names[code] for code in sorted(chosen - before)],
                         "取消": [names[code] for code in sorted(before - chosen)]})
    return chosen


def resolve_categories(session: Session, given: list[str]) -> list[str]:
    """Category codes from codes or names; refuses unknown ones."""
    names = category_names(session)
    by_name = {name: code for code, name in names.items()}
    codes, unknown = [], []
    for item in given:
        text = str(item).strip()
        code = text if text in names else by_name.get(text)
        (codes if code else unknown).append(code or text)
    if unknown:
        raise Refusal(f"病案分类不存在：{'、'.join(unknown)}")
    if not codes:
        raise Refusal("请选择要复印的病案分类")
    return sorted(set(codes))


# --- fees ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordPages:
    """What one record contributes to the fee: its pages per copy, those in free categories."""

    pages: int
    free_pages: int = 0
    stage: bool = False


def compute_fee(fees: FeeRules, records: list[RecordPages], copies: int,
                free_applicant: str = "") -> tuple[int, list[dict]]:
    """The fee in fen and its lines (项目, 数量, 单价, 金额). ``free_applicant``: the applicant
    type's name when that type pays nothing (the lines still show what was done)."""
    charged = sum(r.pages - r.free_pages for r in records) * copies
    free = sum(r.free_pages for r in records) * copies
    stages = sum(1 for r in records if r.stage)
    lines = [_line("复印费", charged, "页", fees.page_fen), _line("调档费", len(records), "份病案", fees.retrieval_fen)]
    if fees.copy_fen:
        lines.append(_line("装订费", len(records) * copies, "份", fees.copy_fen))
    if stages and fees.stage_fen:
        lines.append(_line("阶段复印加收", stages, "份病案", fees.stage_fen))
    if free:
        lines.append(_line("免费资料", free, "页", 0))
    if free_applicant:
        lines = [{**line, "amount_fen": 0} for line in lines]
        lines.append({"item": f"免收（{free_applicant}）", "quantity": 0, "unit": "", "unit_fen": 0, "amount_fen": 0})
    return sum(line["amount_fen"] for line in lines), lines


def _line(item: str, quantity: int, unit: str, unit_fen: int) -> dict:
    return {"item": item, "quantity": quantity, "unit": unit, "unit_fen": unit_fen, "amount_fen": quantity * unit_fen}
