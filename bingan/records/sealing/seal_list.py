"""The seal list (封存清单, art. 24): what was sealed with its SHA-256s, the parties present and a
signature line for each side, as an A4 PDF for the paper file. It is also the first pages of the
seal package, so the signed package and the signed paper say the same."""
from __future__ import annotations

import io
from dataclasses import dataclass

from bingan.clock import local

CID_FONT = "STSong-Light"  # reportlab's built-in CID font: no font file to ship
LEFT, TOP_MARGIN, BOTTOM = 50, 60, 60
LINE = 18


@dataclass(frozen=True)
class ListEntry:
    title: str
    pages: int
    pdf_sha256: str
    ofd_sha256: str


@dataclass(frozen=True)
class SealListFacts:
    hospital: str
    record_number: str
    patient: str
    stay: str
    department: str
    discharged: str
    reason: str
    dispute: str
    scope: str
    parties: list[dict]
    entries: list[ListEntry]
    sealed_at: str
    package_sha256: str = ""


def seal_list_pdf(facts: SealListFacts) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    pdf.setTitle(f"病案封存清单 {facts.record_number}")
    writer = _Writer(pdf, A4[1])
    writer.heading(f"{facts.hospital}  病案封存清单")
    for label, value in (("病案号", facts.record_number), ("患者姓名", facts.patient), ("住院次数", facts.stay),
                         ("出院科室", facts.department), ("出院日期", facts.discharged),
                         ("封存时间", facts.sealed_at), ("封存范围", facts.scope), ("封存原因", facts.reason),
                         ("纠纷情况", facts.dispute or "-")):
        writer.line(f"{label}：{value}")
    writer.gap()
    writer.line("封存内容（每份文书的现行版本，PDF 与 OFD 两种格式，SHA-256 摘要）：", size=11)
    for number, entry in enumerate(facts.entries, start=1):
        writer.line(f"{number}. {entry.title}（{entry.pages} 页）", size=10)
        writer.line(f"   PDF  {entry.pdf_sha256}", size=8)
        writer.line(f"   OFD  {entry.ofd_sha256}", size=8)
    if facts.package_sha256:
        writer.line(f"封存件（已签章 PDF）SHA-256：{facts.package_sha256}", size=8)
    writer.gap()
    writer.line("在场人员：", size=11)
    for party in facts.parties:
        identity = f"  身份证号 {party['id_number']}" if party.get("id_number") else ""
        more = f"  {party['organisation']}" if party.get("organisation") else ""
        writer.line(f"{party['role_name']}：{party['name']}{identity}{more}", size=10)
    writer.gap()
    writer.line("本清单一式两份，医患双方各执一份。封存件由医疗机构保管。", size=10)
    for side in ("患方（患者或其代理人）签名", "医方经办人签名", "公证人员签名（患方拒绝到场时）"):
        writer.gap()
        writer.line(f"{side}：____________________    日期：______年____月____日", size=11)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


class _Writer:
    """Lines top-down, a new page when the bottom margin is reached."""

    def __init__(self, pdf: object, height: float) -> None:
        self.pdf, self.height = pdf, height
        self.y = height - TOP_MARGIN

    def heading(self, text: str) -> None:
        self.line(text, size=16)
        self.gap()

    def gap(self) -> None:
        self.y -= LINE / 2

    def line(self, text: str, size: int = 11) -> None:
        if self.y < BOTTOM:
            self.pdf.showPage()  # type: ignore[attr-defined]
            self.y = self.height - TOP_MARGIN
        self.pdf.setFont(CID_FONT, size)  # type: ignore[attr-defined]
        for chunk in _wrap(text, 480 // size * 2):
            self.pdf.drawString(LEFT, self.y, chunk)  # type: ignore[attr-defined]
            self.y -= max(LINE * size / 11, 12)


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


def local_text(moment: object) -> str:
    return local(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"  # type: ignore[arg-type]
