"""The copy request's paper forms as A4 PDFs (reportlab, as output.py): the fee receipt (收费收据:
request number, applicant, items with page counts, amounts in yuan from fen, payment method and
reference, the clerk, the time) and the electronic application form (病案复印申请表: the
applicant's data and type, the records and what of them, the papers shown and still missing, the
ID card images, signature lines). Both are made on request from the database, never stored."""
from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from PIL import Image
from sqlalchemy.orm import Session

from bingan import clock
from bingan.errors import Conflict
from bingan.formats.base import FormatError
from bingan.formats.images import open_upload
from bingan.records.release import rules, service
from bingan.storage.models import User
from bingan.storage.models.release import CopyApplicantType, CopyRequest

CID_FONT = "STSong-Light"  # reportlab's built-in CID font: no font file to ship
LEFT, TOP, BOTTOM, WIDTH = 50, 60, 60, 495
# Papers that are identity documents: their images go on the application form.
ID_PAPERS = ("id_card", "patient_id", "heir_id", "officer_id")
MAX_ID_PIXELS = 40_000_000
DIGITS = "零壹贰叁肆伍陆柒捌玖"
UNITS = ("", "拾", "佰", "仟")
GROUPS = ("", "万", "亿")
ReadBlob = Callable[[str], bytes]


def capital_yuan(fen: int) -> str:
    """人民币大写 as printed on receipts: 650 → 陆元伍角整, 1005 → 壹拾元零伍分, 0 → 零元整."""
    yuan, jiao, cents = fen // 100, fen // 10 % 10, fen % 10
    text = f"{_integer(yuan)}元" if yuan else ""
    if jiao:
        text += f"{DIGITS[jiao]}角"
    elif yuan and cents:
        text += "零"
    if cents:
        text += f"{DIGITS[cents]}分"
    return (text or "零元") + ("" if cents else "整")


def _integer(number: int) -> str:
    out, group, zero_before = "", 0, False
    while number:
        number, chunk = divmod(number, 10000)
        if chunk:
            out = _chunk(chunk) + GROUPS[group] + ("零" if zero_before and out else "") + out
            zero_before = chunk < 1000
        else:
            zero_before = True
        group += 1
    return out


def _chunk(chunk: int) -> str:
    out, zero = "", False
    for position in (3, 2, 1, 0):
        digit = chunk // 10 ** position % 10
        if digit:
            out += ("零" if zero and out else "") + DIGITS[digit] + UNITS[position]
            zero = False
        else:
            zero = True
    return out


# --- the receipt -------------------------------------------------------------------------------

def receipt_pdf(session: Session, request: CopyRequest, hospital: str) -> bytes:
    if request.paid_at is None:
        raise Conflict("该申请尚未缴费，没有收费收据" if request.fee_fen else "该申请免费办理，没有收费收据")
    clerk = session.get(User, request.paid_by_id) if request.paid_by_id else None
    sheet = _Sheet(f"收费收据 {request.id}")
    sheet.heading(f"{hospital}  病案复印收费收据")
    sheet.line(f"收据编号：FY{request.id:08d}    复印申请编号：{request.id}    "
               f"打印时间：{clock.local(clock.now()):%Y-%m-%d %H:%M}", size=9)
    sheet.gap()
    sheet.line(f"申请人：{request.applicant_name}（{_type_name(session, request)}）    "
               f"身份证号：{service.mask_id(request.applicant_id_number)}")
    sheet.line(f"复印内容：{len(request.record_ids)} 份病案，共 {request.pages} 页，复印 {request.copies} 份"
               f"{'（阶段复印）' if request.stage else ''}")
    for record_id, pages in _pages_per_record(request):
        sheet.line(f"    病案 {record_id}：{pages} 页", size=10)
    sheet.gap()
    sheet.row(("项目", "数量", "单价（元）", "金额（元）"), bold=True)
    for line in request.fee_lines:
        quantity = f"{line['quantity']} {line['unit']}" if line["quantity"] else ""
        sheet.row((line["item"], quantity, rules.yuan(line["unit_fen"]), rules.yuan(line["amount_fen"])))
    sheet.row(("合计", "", "", rules.yuan(request.fee_fen)), bold=True)
    sheet.line(f"合计金额（大写）：人民币{capital_yuan(request.fee_fen)}")
    sheet.gap()
    method = service.PAYMENT_METHODS.get(request.payment_method, request.payment_method)
    sheet.line(f"缴费方式：{method}" + (f"    凭证号/交易流水号：{request.payment_reference}"
                                      if request.payment_reference else ""))
    sheet.line(f"收费时间：{clock.local(request.paid_at):%Y-%m-%d %H:%M:%S}    "
               f"收费员：{_person(clerk)}")
    if request.refunded_at:
        sheet.line(f"已退费：{clock.local(request.refunded_at):%Y-%m-%d %H:%M}，原因：{request.refund_reason}")
    sheet.gap()
    sheet.line("收款单位（盖章）：____________________        收费员签字：____________", size=10)
    return sheet.finish()


def _pages_per_record(request: CopyRequest) -> list[tuple[int, int]]:
    return [(record_id, sum(len(item["pages"]) for item in request.items if item["record_id"] == record_id))
            for record_id in request.record_ids]


# --- the application form ----------------------------------------------------------------------

@dataclass(frozen=True)
class RecordLine:
    record_number: str
    stay: int | None
    patient: str
    department: str
    discharged: str


def application_pdf(session: Session, request: CopyRequest, hospital: str, read_blob: ReadBlob) -> bytes:
    sheet = _Sheet(f"病案复印申请表 {request.id}")
    sheet.heading(f"{hospital}  病案复印申请表")
    sheet.line(f"申请编号：{request.id}    登记时间：{clock.local(request.created_at):%Y-%m-%d %H:%M}    "
               f"登记人：{_person(request.created_by)}", size=9)
    sheet.gap()
    sheet.line("一、申请人", size=12)
    sheet.line(f"申请人类型：{_type_name(session, request)}    姓名：{request.applicant_name}    "
               f"身份证号：{request.applicant_id_number}")
    sheet.line(f"联系电话：{request.applicant_phone or '-'}    与患者关系：{request.relation or '-'}    "
               f"工作单位：{request.applicant_organisation or '-'}")
    card = request.card or {}
    if card:
        read = {key: card.get(key, "-") for key in ("sex", "nation", "birth", "address", "issuer", "valid_from",
                                                     "valid_to")}
        sheet.line(f"身份证读卡：性别 {read['sex']}  民族 {read['nation']}  出生 {read['birth']}  "
                   f"住址 {read['address']}  签发机关 {read['issuer']}  "
                   f"有效期 {read['valid_from']}–{read['valid_to']}", size=9)
    sheet.line(f"复印用途：{request.purpose or '-'}")
    sheet.gap()
    sheet.line("二、申请复印的病案", size=12)
    for number, record in enumerate(_records(session, request), start=1):
        sheet.line(f"{number}. 病案号 {record.record_number}  第 {record.stay or '-'} 次住院  患者 {record.patient}  "
                   f"出院科室 {record.department or '-'}  出院日期 {record.discharged}", size=10)
    sheet.line(f"复印范围：{_scope(request)}；共 {request.pages} 页，复印 {request.copies} 份"
               f"{'（阶段复印）' if request.stage else ''}", size=10)
    for item in request.items:
        sheet.line(f"    {item['category_name']} · {item['title']}（第{item['version']}版）第"
                   f"{service.page_ranges(item['pages'])}页", size=9)
    sheet.gap()
    sheet.line("三、提供的证明材料", size=12)
    papers = service.papers_of(session, request)
    for paper in papers:
        when = clock.local(paper.uploaded_at)
        sheet.line(f"【已提供】{paper.name}（{_kind(paper.media_type)}，{when:%Y-%m-%d %H:%M}）", size=10)
    for paper in service.missing_papers(session, request):
        sheet.line(f"【尚缺】{paper['name']}", size=10)
    sheet.gap()
    sheet.line("申请人声明：以上信息及所提供材料真实有效，复印件仅用于所述用途。", size=10)
    sheet.line("申请人签名：____________    日期：______年____月____日        经办人：____________", size=10)
    identity = [paper for paper in papers if paper.code in ID_PAPERS and paper.media_type.startswith("image/")]
    if identity:
        sheet.gap()
        sheet.line("四、身份证明图像", size=12)
        for paper in identity:
            sheet.picture(paper.name, _picture(read_blob(paper.sha256)))
    return sheet.finish()


def _records(session: Session, request: CopyRequest) -> list[RecordLine]:
    return [RecordLine(record.record_number, record.stay_number, record.patient.name,
                       record.discharge_department.name if record.discharge_department else "",
                       f"{clock.local(record.discharged_at):%Y-%m-%d}" if record.discharged_at else "-")
            for record in service.records_of(session, request)]


def _scope(request: CopyRequest) -> str:
    selection = request.selection or {}
    if selection.get("kind") == "package":
        return f"套餐“{selection.get('package_name', selection.get('package', ''))}”"
    if selection.get("kind") == "categories":
        return "指定分类"
    return "指定页"


def _kind(media_type: str) -> str:
    return {"image/jpeg": "照片", "image/png": "照片", "application/pdf": "PDF"}.get(media_type, media_type)


def _picture(data: bytes) -> Image.Image | None:
    """The paper's image, or None when it cannot be decoded (the form then says so)."""
    try:
        with open_upload(data, MAX_ID_PIXELS) as image:
            image.load()
            return image.convert("RGB")
    except (FormatError, OSError, SyntaxError, ValueError):
        return None


def _type_name(session: Session, request: CopyRequest) -> str:
    return session.scalars(sa.select(CopyApplicantType.name).where(
        CopyApplicantType.code == request.applicant_type)).one()


def _person(user: User | None) -> str:
    if user is None:
        return "-"
    return f"{user.full_name or user.username}（{user.staff_number or user.username}）"


class _Sheet:
    """Lines and table rows top-down on A4, a new page when the bottom margin is reached."""

    def __init__(self, title: str) -> None:
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont
        from reportlab.pdfgen import canvas

        if CID_FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
        self.out = io.BytesIO()
        self.pdf = canvas.Canvas(self.out, pagesize=A4, invariant=1)
        self.pdf.setTitle(title)
        self.height = A4[1]
        self.y = self.height - TOP

    def heading(self, text: str) -> None:
        self.line(text, size=16)
        self.gap()

    def gap(self) -> None:
        self.y -= 9

    def _room(self, needed: float) -> None:
        if self.y - needed < BOTTOM:
            self.pdf.showPage()
            self.y = self.height - TOP

    def line(self, text: str, size: int = 11) -> None:
        for chunk in _wrap(text, int(WIDTH / size * 2)):
            self._room(size * 1.6)
            self.pdf.setFont(CID_FONT, size)
            self.pdf.drawString(LEFT, self.y, chunk)
            self.y -= size * 1.6

    def row(self, cells: tuple[str, ...], bold: bool = False) -> None:
        """A fee table row: the item at the left, the numbers right-aligned in their columns."""
        size = 11 if bold else 10
        self._room(size * 1.8)
        self.pdf.setFont(CID_FONT, size)
        self.pdf.drawString(LEFT, self.y, cells[0])
        for right, cell in zip((LEFT + 300, LEFT + 400, LEFT + WIDTH), cells[1:], strict=True):
            self.pdf.drawRightString(right, self.y, cell)
        self.pdf.line(LEFT, self.y - 4, LEFT + WIDTH, self.y - 4)
        self.y -= size * 1.8

    def picture(self, caption: str, image: Image.Image | None) -> None:
        from reportlab.lib.utils import ImageReader

        if image is None:
            self.line(f"{caption}：（图像无法显示）", size=10)
            return
        scale = min(240 / image.width, 160 / image.height)
        width, height = image.width * scale, image.height * scale
        self._room(height + 20)
        self.line(caption, size=10)
        self.pdf.drawImage(ImageReader(image), LEFT, self.y - height + 8, width, height)
        self.y -= height + 8

    def finish(self) -> bytes:
        self.pdf.showPage()
        self.pdf.save()
        return self.out.getvalue()


def _wrap(text: str, width: int) -> list[str]:
    """Chinese text wraps anywhere; ``width`` in half-width columns."""
    lines, current, used = [], "", 0
    for char in text:
        cost = 1 if ord(char) < 0x2E80 else 2
        if used + cost > width:
            lines.append(current)
            current, used = "", 0
        current, used = current + char, used + cost
    return [*lines, current]
