"""Copy requests at the copy window (复印登记, J1–J8): who applies with which papers, what of which
records, refusals and warnings, the exact pages and the fee, payment and refund, the copy job.

A request is checked in full before anything is written: a sealed record is never copied, an
unarchived one only when the hospital allows stage copying (then marked 阶段复印, art. 21),
outside applicants get only the copyable categories (art. 19). The gate (copy.serve, the
clerk's departments and campuses) is the web layer's, per record, before this module is called.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from bingan import clock
from bingan.access.audit import Actor, record_event
from bingan.access.policy import Subject, decide_for
from bingan.errors import Conflict, NotFound, Refusal
from bingan.records import jobs
from bingan.records.completeness.marks import open_marks
from bingan.records.release import rules
from bingan.storage.blobs.port import BlobStore, Placement
from bingan.storage.models import Category, Department, Document, DocumentType, Patient, Record, User, utcnow
from bingan.storage.models.identity import InvalidIdNumber, normalise_id_number
from bingan.storage.models.jobs import Job
from bingan.storage.models.release import CopyApplicantType, CopyPaper, CopyPrint, CopyRequest

COPY_JOB = "copy_print"
STATUS_NAMES = {"pending_review": "待审核", "registered": "待缴费", "paid": "已缴费", "printed": "已打印",
                "refunded": "已退费", "cancelled": "已作废", "rejected": "已驳回"}
ONLINE_DOWNLOAD_DAYS = 7  # an online copy's download link works this long from printing
PAYMENT_METHODS = {"cash": "现金", "card": "银行卡", "online": "线上支付"}
HIV_CODES = ("B20", "B21", "B22", "B23", "B24")  # ICD-10 HIV disease
HIV_TAG_WORDS = ("HIV", "艾滋")
MAX_RECORDS = 50
MAX_COPIES = 20
PAPER_TYPES = {"image/jpeg", "image/png", "application/pdf"}
MAX_PAPER_BYTES = 10 * 1024 * 1024
ID_PHOTO = "id_card"  # the applicant's own ID paper: the card reader's photo counts for it


@dataclass(frozen=True)
class Applicant:
    type: str
    name: str
    id_number: str = ""
    phone: str = ""
    organisation: str = ""
    relation: str = ""
    card: dict = field(default_factory=dict)  # what the card reader gave, photo excluded


@dataclass(frozen=True)
class CopyForm:
    """What to copy: exactly one of ``package`` (code or name), ``categories`` (codes or names),
    ``pages`` ([{"document_id", "pages": [n…]}], pages omitted = the whole document)."""

    applicant: Applicant
    record_ids: list[int]
    package: str = ""
    categories: list[str] | None = None
    pages: list[dict] | None = None
    copies: int | None = None
    purpose: str = ""
    watermark: str = ""


# --- finding records ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Criteria:
    id_number: str = ""
    name: str = ""
    record_number: str = ""
    admitted_from: date | None = None
    admitted_to: date | None = None
    discharged_from: date | None = None
    discharged_to: date | None = None
    department: str = ""


def find_records(session: Session, subject: Subject, criteria: Criteria, limit: int = 50) -> list[Record]:
    """Records matching every given criterion that this clerk may copy (departments and campuses
    of the gate's "copy" rule; sealed ones are listed so the clerk can tell the applicant why)."""
    query = sa.select(Record).join(Patient, Patient.id == Record.patient_id)
    if criteria.id_number.strip():
        try:
            query = query.where(Patient.id_number == normalise_id_number(criteria.id_number))
        except InvalidIdNumber as exc:
            raise Refusal(str(exc)) from exc
    if criteria.name.strip():
        query = query.where(Patient.name == criteria.name.strip())
    if criteria.record_number.strip():
        query = query.where(Record.record_number == criteria.record_number.strip())
    for column, start, end in ((Record.admitted_at, criteria.admitted_from, criteria.admitted_to),
                               (Record.discharged_at, criteria.discharged_from, criteria.discharged_to)):
        if start:
            query = query.where(column >= clock.day_start(start))
        if end:
            query = query.where(column < clock.day_bounds(end)[1])
    if criteria.department.strip():
        query = query.join(Department, Department.id == Record.discharge_department_id).where(
            sa.or_(Department.name == criteria.department.strip(), Department.code == criteria.department.strip()))
    if query.whereclause is None:
        raise Refusal("请至少填写一项查找条件：身份证号、姓名、病案号、入出院日期或出院科室")
    found = session.scalars(query.order_by(Record.discharged_at.desc(), Record.id.desc()).limit(limit * 4)).all()
    return [record for record in found if record.sealed or decide_for(subject, "copy", record)][:limit]


# --- applying ----------------------------------------------------------------------------------

def create_request(session: Session, actor: Actor, user: User, records: list[Record], form: CopyForm) -> CopyRequest:
    """复印登记: everything checked before the request is written."""
    kind = rules.applicant_type(session, form.applicant.type)
    applicant = _applicant(form.applicant, kind)
    if not records:
        raise Refusal("请选择要复印的病案")
    if len(records) > MAX_RECORDS:
        raise Refusal(f"一次最多复印 {MAX_RECORDS} 份病案")
    if len({record.id for record in records}) != len(records):
        raise Refusal("所选病案有重复")
    copy_rules = rules.copy_rules(session)
    selection, package_copies = _selection(session, form)
    copies = form.copies if form.copies is not None else package_copies
    if not isinstance(copies, int) or not 1 <= copies <= MAX_COPIES:
        raise Refusal(f"复印份数应为 1 至 {MAX_COPIES}")
    stages = {record.id: _stage(record, number, copy_rules) for number, record in enumerate(records, start=1)}
    items = _items(session, records, selection, kind)
    warnings = [warning for record in records for warning in record_warnings(session, record, stages[record.id])]
    fee, lines = rules.compute_fee(copy_rules.fees, _fee_basis(items, records, stages, copy_rules.fees), copies,
                                   kind.name if kind.free else "")
    request = CopyRequest(
        applicant_type=kind.code, applicant_name=applicant.name, applicant_id_number=applicant.id_number,
        applicant_phone=applicant.phone, applicant_organisation=applicant.organisation,
        relation=applicant.relation, purpose=_text(form.purpose, "复印用途", 100), card=applicant.card,
        record_ids=[record.id for record in records], selection=selection, items=items, copies=copies,
        pages=sum(len(item["pages"]) for item in items), stage=any(stages.values()), warnings=warnings,
        watermark=_text(form.watermark, "水印文字", 100) or f"仅供{kind.name}{applicant.name}使用",
        fee_fen=fee, fee_lines=lines, created_by_id=user.id)
    session.add(request)
    session.flush()
    for record in records:
        record_event(session, actor, "copy.request", object_type="copy_request", object_id=request.id,
                     record_id=record.id, detail={"申请人类型": kind.name, "份数": copies,
                                                  "阶段复印": stages[record.id], "金额": rules.yuan(fee)})
    return request


def _applicant(given: Applicant, kind: CopyApplicantType) -> Applicant:
    name = (given.name or "").strip()
    if not name or len(name) > 50:
        raise Refusal("请填写申请人姓名（不超过50字）")
    try:
        id_number = normalise_id_number(given.id_number or "")
    except InvalidIdNumber as exc:
        raise Refusal(f"申请人{exc}") from exc
    card = {key: str(value)[:100] for key, value in (given.card or {}).items()
            if key in ("name", "sex", "nation", "birth", "address", "issuer", "valid_from", "valid_to")}
    return Applicant(kind.code, name, id_number, _text(given.phone, "联系电话", 32),
                     _text(given.organisation, "工作单位", 100), _text(given.relation, "与患者关系", 50), card)


def _selection(session: Session, form: CopyForm) -> tuple[dict, int]:
    given = [bool(form.package), form.categories is not None, form.pages is not None]
    if sum(given) != 1:
        raise Refusal("请在套餐（package）、分类（categories）、页码（pages）中选择一种复印范围")
    if form.package:
        package = rules.package_by_code(session, form.package)
        return {"kind": "package", "package": package.code, "package_name": package.name,
                "categories": package.categories}, package.copies
    if form.categories is not None:
        return {"kind": "categories", "categories": rules.resolve_categories(session, form.categories)}, 1
    return {"kind": "pages", "pages": _page_choices(form.pages or [])}, 1


def _page_choices(raw: list) -> list[dict]:
    if not raw or len(raw) > 500:
        raise Refusal("请选择要复印的文书页（最多500项）")
    choices = []
    for item in raw:
        document_id = item.get("document_id") if isinstance(item, dict) else None
        pages = item.get("pages") if isinstance(item, dict) else None
        if not isinstance(document_id, int) or isinstance(document_id, bool) or document_id < 1:
            raise Refusal("每项页码选择应含文书编号（document_id）")
        if pages is not None and (not isinstance(pages, list) or not pages
                                  or not all(isinstance(p, int) and not isinstance(p, bool) and p >= 1 for p in pages)):
            raise Refusal("页码应为从1开始的整数列表")
        choices.append({"document_id": document_id, "pages": sorted(set(pages)) if pages else None})
    return choices


WHOLE = ("全部", "全", "all", "*")
MAX_PAGE_NUMBER = 2000


def parse_pages(text: str, title: str = "") -> list[int] | None:
    """What the clerk typed for one document: "1-3,5" (full-width ，、－ too) → [1, 2, 3, 5];
    "全部" → None (the whole document)."""
    raw = (text or "").strip()
    if raw.lower() in WHOLE:
        return None
    pages: set[int] = set()
    for part in raw.replace("，", ",").replace("、", ",").replace("－", "-").replace("—", "-").split(","):
        start, dash, end = part.strip().partition("-")
        if not start.strip().isdigit() or (dash and not end.strip().isdigit()):
            raise Refusal(f"“{title}”的页码“{raw[:30]}”格式不正确，应如 1-3,5 或“全部”")
        first, last = int(start), int(end or start)
        if not 1 <= first <= last <= MAX_PAGE_NUMBER:
            raise Refusal(f"“{title}”的页码“{part.strip()}”不正确：页码从 1 开始，起页不大于止页")
        pages.update(range(first, last + 1))
    return sorted(pages)


def documents_to_choose(session: Session, record: Record) -> list[dict]:
    """A record's documents with content, for choosing single pages: id, category, title, pages,
    and whether outside applicants may have it (art. 19)."""
    copyable = rules.copyable_categories(session)
    rows = session.execute(
        sa.select(Document, Category.code, Category.name).options(selectinload(Document.current_version))
        .join(DocumentType, DocumentType.id == Document.document_type_id)
        .join(Category, Category.id == DocumentType.category_id)
        .where(Document.record_id == record.id, Document.removed.is_(False), Document.current_version_id.is_not(None))
        .order_by(Category.filing_order, DocumentType.filing_order, Document.id)).all()
    return [{"id": document.id, "title": document.title, "category_name": name, "copyable": code in copyable,
             "pages": max(document.current_version.page_count, 1)} for document, code, name in rows]


def _stage(record: Record, number: int, copy_rules: rules.CopyRules) -> bool:
    """Sealed: never. Not archived: refused unless the hospital allows stage copying."""
    if record.sealed:
        raise Refusal(f"所选第{number}份病案已封存，封存的病案一律不予复印")
    if record.status == "archived":
        return False
    if not copy_rules.stage_copying:
        raise Refusal(f"病案 {record.record_number} 尚未归档，不予复印（本院未开放阶段复印，"
                      "2013 规定第二十一条：病历尚未完成的，待完成后复印）")
    return True


def _items(session: Session, records: list[Record], selection: dict, kind: CopyApplicantType) -> list[dict]:
    """The exact pages: documents with content of the chosen categories (or pages), each at its
    current version, in filing order."""
    copyable = rules.copyable_categories(session)
    names = rules.category_names(session)
    wanted = set(selection.get("categories") or [])
    if kind.outside and selection["kind"] == "categories" and wanted - copyable:
        refused = "、".join(names.get(code, code) for code in sorted(wanted - copyable))
        raise Refusal(f"{kind.name}只能复印规定的可复印部分（2013 规定第十九条），以下分类不可复印：{refused}")
    choices = {choice["document_id"]: choice["pages"] for choice in selection.get("pages") or []}
    rows = session.execute(
        sa.select(Document, Category.code).join(DocumentType, DocumentType.id == Document.document_type_id)
        .join(Category, Category.id == DocumentType.category_id)
        .where(Document.record_id.in_([record.id for record in records]), Document.removed.is_(False),
               Document.current_version_id.is_not(None))
        .order_by(Document.record_id, Category.filing_order, DocumentType.filing_order, Document.id)).all()
    if choices and not set(choices) <= {document.id for document, _ in rows}:
        raise Refusal("所选文书不属于所选病案，或已撤回、尚无内容")
    items = []
    for document, category in rows:
        if not _chosen(selection, wanted, choices, document.id, category):
            continue
        if kind.outside and category not in copyable:
            if selection["kind"] == "pages":
                raise Refusal(f"{kind.name}只能复印规定的可复印部分（2013 规定第十九条）：“{document.title}”不可复印")
            continue  # a package or "all" gives an outside applicant only what art. 19 allows
        items.append(_item(document, category, names.get(category, category), choices.get(document.id)))
    for number, record in enumerate(records, start=1):
        if not any(item["record_id"] == record.id for item in items):
            raise Refusal(f"所选第{number}份病案（{record.record_number}）中没有可复印的所选资料")
    return items


def _chosen(selection: dict, wanted: set[str], choices: dict, document_id: int, category: str) -> bool:
    if selection["kind"] == "pages":
        return document_id in choices
    return not wanted or category in wanted


def _item(document: Document, category: str, category_name: str, pages: list[int] | None) -> dict:
    version = document.current_version
    count = max(version.page_count, 1)
    if pages and pages[-1] > count:
        raise Refusal(f"“{document.title}”共 {count} 页，没有第 {pages[-1]} 页")
    return {"record_id": document.record_id, "document_id": document.id, "title": document.title,
            "category": category, "category_name": category_name, "version": version.number,
            "sha256": version.sha256, "media_type": version.media_type,
            "pages": pages or list(range(1, count + 1))}


def _fee_basis(items: list[dict], records: list[Record], stages: dict[int, bool],
               fees: rules.FeeRules) -> list[rules.RecordPages]:
    basis = []
    for record in records:
        mine = [item for item in items if item["record_id"] == record.id]
        basis.append(rules.RecordPages(
            pages=sum(len(item["pages"]) for item in mine),
            free_pages=sum(len(item["pages"]) for item in mine if item["category"] in fees.free_categories),
            stage=stages[record.id]))
    return basis


def record_warnings(session: Session, record: Record, stage: bool = False) -> list[str]:
    """What the clerk must see before copying (J5): stage copying, HIV, open missing marks."""
    warnings = []
    if stage:
        warnings.append(f"病案 {record.record_number} 尚未归档，按阶段复印办理，复印件标注“阶段复印”")
    if any(d.code.upper().startswith(HIV_CODES) for d in record.diagnoses) or any(
            word in tag.name.upper() for tag in record.tags for word in HIV_TAG_WORDS):
        warnings.append(f"病案 {record.record_number} 含HIV相关诊断：请核实申请人身份，注意保护患者隐私")
    for mark in open_marks(session, record.id):
        what = mark.document_type.name if mark.document_type else (mark.category.name if mark.category else "")
        if mark.kind == "missing":
            warnings.append(f"病案 {record.record_number} 缺项未补：{what or mark.reason}")
    return warnings


def _text(value: str, what: str, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise Refusal(f"{what}不能超过 {limit} 字")
    return text


# --- papers ------------------------------------------------------------------------------------

def required_papers(session: Session, request: CopyRequest) -> list[dict]:
    kind = session.scalars(sa.select(CopyApplicantType).where(CopyApplicantType.code == request.applicant_type)).one()
    return list(kind.papers)


def papers_of(session: Session, request: CopyRequest) -> list[CopyPaper]:
    return list(session.scalars(sa.select(CopyPaper).where(CopyPaper.request_id == request.id).order_by(CopyPaper.id)))


def missing_papers(session: Session, request: CopyRequest) -> list[dict]:
    """The papers the applicant type requires that were neither photographed nor uploaded."""
    have = {paper.code for paper in papers_of(session, request)}
    return [paper for paper in required_papers(session, request) if paper["code"] not in have]


def add_paper(session: Session, actor: Actor, user: User, blobs: BlobStore, request: CopyRequest, code: str,
              data: bytes, media_type: str) -> CopyPaper:
    """A photographed or uploaded paper, kept encrypted in the blob store."""
    known = {paper["code"]: paper["name"] for paper in required_papers(session, request)}
    known.setdefault(ID_PHOTO, "申请人有效身份证明")
    if code not in known and code != "other":
        raise Refusal(f"材料种类应为：{'、'.join(known.values())}或其他材料")
    if media_type not in PAPER_TYPES or not _looks_like(data, media_type):
        raise Refusal("材料应为 JPEG、PNG 照片或 PDF 文件")
    if not data or len(data) > MAX_PAPER_BYTES:
        raise Refusal("材料文件应小于 10 MB")
    if request.status in ("refunded", "cancelled", "rejected"):
        raise Conflict(f"该申请{STATUS_NAMES[request.status]}，不能再添加材料")
    name = known.get(code, "其他材料")
    info = blobs.put(io.BytesIO(data), Placement(campus="copy", record_number=f"copy-{request.id}", stay=None,
                                                 when=utcnow().date(), filename=f"{code}.{_suffix(media_type)}"))
    paper = CopyPaper(request_id=request.id, code=code, name=name, sha256=info.sha256, media_type=media_type,
                      size=len(data), uploaded_by_id=user.id)
    session.add(paper)
    session.flush()
    record_event(session, actor, "copy.paper_add", object_type="copy_request", object_id=request.id,
                 detail={"材料": name, "大小": len(data)})
    return paper


def _looks_like(data: bytes, media_type: str) -> bool:
    magic = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG", "application/pdf": b"%PDF"}
    return data.startswith(magic[media_type])


def _suffix(media_type: str) -> str:
    return {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}[media_type]


def paper(session: Session, request: CopyRequest, paper_id: int) -> CopyPaper:
    found = session.get(CopyPaper, paper_id)
    if found is None or found.request_id != request.id:
        raise NotFound("材料不存在")
    return found


# --- payment, refund, printing -----------------------------------------------------------------

def get_request(session: Session, request_id: int) -> CopyRequest:
    found = session.get(CopyRequest, request_id)
    if found is None:
        raise NotFound("复印申请不存在")
    return found


def pay(session: Session, actor: Actor, user: User, request: CopyRequest, method: str,
        reference: str = "") -> CopyRequest:
    """缴费: cash, card or an online payment's reference; the amount is the computed fee."""
    if method not in PAYMENT_METHODS:
        raise Refusal("缴费方式应为：cash（现金）、card（银行卡）或 online（线上支付）")
    reference = _text(reference, "缴费凭证号", 64)
    if method != "cash" and not reference:
        raise Refusal(f"{PAYMENT_METHODS[method]}缴费请填写凭证号或交易流水号")
    if request.status != "registered":
        raise Conflict(f"该申请{STATUS_NAMES[request.status]}，不能再缴费")
    request.status, request.payment_method, request.payment_reference = "paid", method, reference
    request.paid_at, request.paid_by_id = utcnow(), user.id
    record_event(session, actor, "copy.pay", object_type="copy_request", object_id=request.id,
                 detail={"金额": rules.yuan(request.fee_fen), "方式": PAYMENT_METHODS[method], "凭证号": reference})
    return request


def refund(session: Session, actor: Actor, user: User, request: CopyRequest, reason: str) -> CopyRequest:
    """退费 with a reason; a printed copy can be refunded too (e.g. a misprint the hospital owns)."""
    reason = _text(reason, "退费原因", 500)
    if not reason:
        raise Refusal("请填写退费原因")
    if request.status not in ("paid", "printed") or not request.paid_at:
        raise Conflict(f"该申请{STATUS_NAMES[request.status]}，没有可退的费用")
    request.status, request.refund_reason = "refunded", reason
    request.refunded_at, request.refunded_by_id = utcnow(), user.id
    record_event(session, actor, "copy.refund", object_type="copy_request", object_id=request.id,
                 detail={"金额": rules.yuan(request.fee_fen), "原因": reason})
    return request


def cancel(session: Session, actor: Actor, request: CopyRequest) -> CopyRequest:
    if request.status != "registered":
        raise Conflict(f"该申请{STATUS_NAMES[request.status]}，不能作废（已缴费的请退费）")
    request.status = "cancelled"
    record_event(session, actor, "copy.cancel", object_type="copy_request", object_id=request.id)
    return request


def payable(request: CopyRequest) -> bool:
    return request.status == "registered" and request.fee_fen > 0


def start_print(session: Session, actor: Actor, user: User, request: CopyRequest) -> Job:
    """Queue the copy job: paid (or free), its records still unsealed, no job already running."""
    if request.status == "registered" and request.fee_fen > 0:
        raise Conflict(f"请先缴费（应收 {rules.yuan(request.fee_fen)} 元）")
    if request.status not in ("registered", "paid"):
        raise Conflict(f"该申请{STATUS_NAMES[request.status]}，不能打印")
    running = session.get(Job, request.job_id) if request.job_id else None
    if running is not None and running.state in ("queued", "running"):
        raise Conflict("复印件正在生成，请稍候")
    for number, record in enumerate(records_of(session, request), start=1):
        if record.sealed:
            raise Refusal(f"所选第{number}份病案已封存，封存的病案一律不予复印")
    job = jobs.start(session, actor, COPY_JOB, {"request_id": request.id}, owner=user,
                     record_id=request.record_ids[0] if len(request.record_ids) == 1 else None)
    request.job_id = job.id
    return job


def records_of(session: Session, request: CopyRequest) -> list[Record]:
    found = {record.id: record
             for record in session.scalars(sa.select(Record).where(Record.id.in_(request.record_ids)))}
    return [found[record_id] for record_id in request.record_ids if record_id in found]


def register_prints(session: Session, actor: Actor, request: CopyRequest) -> None:
    """The printed-copies rows (one per document) and the print event for each record."""
    for_whom = f"{request.applicant_name}（{_type_name(session, request)}）"
    for item in request.items:
        session.add(CopyPrint(request_id=request.id, record_id=item["record_id"], document_id=item["document_id"],
                              title=item["title"][:200], version=item["version"], pages=page_ranges(item["pages"]),
                              copies=request.copies, for_whom=for_whom[:200], printed_by=actor.username[:64]))
    for record_id in request.record_ids:
        pages = sum(len(item["pages"]) for item in request.items if item["record_id"] == record_id)
        record_event(session, actor, "copy.print", object_type="copy_request", object_id=request.id,
                     record_id=record_id, detail={"为谁": for_whom, "页数": pages, "份数": request.copies,
                                                  "阶段复印": request.stage})
    request.status, request.printed_at = "printed", utcnow()
    if request.channel == "online":
        request.download_expires_at = request.printed_at + timedelta(days=ONLINE_DOWNLOAD_DAYS)


def _type_name(session: Session, request: CopyRequest) -> str:
    return session.scalars(sa.select(CopyApplicantType.name).where(
        CopyApplicantType.code == request.applicant_type)).one()


def page_ranges(pages: list[int]) -> str:
    """[1, 2, 3, 7] → "1-3,7"."""
    spans: list[list[int]] = []
    for page in sorted(pages):
        if spans and page == spans[-1][1] + 1:
            spans[-1][1] = page
        else:
            spans.append([page, page])
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)[:500]


# --- views -------------------------------------------------------------------------------------

def requests(session: Session, status: str = "", limit: int = 200) -> list[CopyRequest]:
    if status and status not in STATUS_NAMES:
        raise Refusal(f"状态应为：{'、'.join(f'{code}（{name}）' for code, name in STATUS_NAMES.items())}")
    query = sa.select(CopyRequest).order_by(CopyRequest.id.desc()).limit(limit)
    return list(session.scalars(query.where(CopyRequest.status == status) if status else query))


def as_json(session: Session, request: CopyRequest) -> dict:
    job = session.get(Job, request.job_id) if request.job_id else None
    return {
        "id": request.id, "status": request.status, "status_name": STATUS_NAMES[request.status],
        "applicant": {"type": request.applicant_type, "type_name": _type_name(session, request),
                      "name": request.applicant_name, "id_number": mask_id(request.applicant_id_number),
                      "phone": request.applicant_phone, "organisation": request.applicant_organisation,
                      "relation": request.relation, "card_read": bool(request.card)},
        "record_ids": request.record_ids, "selection": request.selection, "copies": request.copies,
        "pages": request.pages, "stage": request.stage, "warnings": request.warnings, "purpose": request.purpose,
        "watermark": request.watermark,
        "fee": request.fee_fen / 100, "fee_yuan": rules.yuan(request.fee_fen), "fee_fen": request.fee_fen,
        "fee_lines": request.fee_lines,
        "documents": [{key: item[key] for key in ("record_id", "document_id", "title", "category_name", "version")}
                      | {"pages": page_ranges(item["pages"]), "page_count": len(item["pages"])}
                      for item in request.items],
        "papers": [{"id": p.id, "code": p.code, "name": p.name, "media_type": p.media_type}
                   for p in papers_of(session, request)],
        "missing_papers": missing_papers(session, request),
        "payment": {"method": request.payment_method, "reference": request.payment_reference,
                    "paid_at": clock.iso(request.paid_at)} if request.paid_at else None,
        "refund": {"reason": request.refund_reason, "refunded_at": clock.iso(request.refunded_at)}
        if request.refunded_at else None,
        "job_id": request.job_id, "job": jobs.job_view(job) if job else None,
        "printed_at": clock.iso(request.printed_at), "created_at": clock.iso(request.created_at),
    }


def mask_id(number: str) -> str:
    return f"{number[:6]}********{number[-4:]}" if len(number) == 18 else number
