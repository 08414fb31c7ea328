"""Deterministic demo and benchmark data: patients, stays with front pages, documents as PDF and OFD.

``generate(n, seed)`` yields the same records for the same arguments. ``load_demo`` writes
patients and records straight into the database (as a basic-data sync would) and sends
every document through the real pipeline in this process.
"""
from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bingan.storage.models.identity import check_char

CID_FONT = "STSong-Light"
OFD_TYPES = {"C2201", "C2202"}  # lab and ECG reports: the systems that typically deliver OFD
OFD_DPI = 96  # the OFD page image; its invisible text layer carries the searchable text
LINES_PER_PAGE = 34
CHARS_PER_LINE = 38

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅海燕文博宇浩然子涵欣怡雨桐思远俊杰"
REGIONS = ["110105", "310104", "440106", "510107", "420106", "320102", "330106", "370102", "210102", "610113"]
CAMPUSES = [("main", "本院"), ("east", "东院区")]

# (code, name, surgical, [(ICD-10, diagnosis)], [(ICD-9-CM-3, operation)])
DEPARTMENTS = [
    ("NK01", "心血管内科", False, [("I25.103", "冠状动脉粥样硬化性心脏病"), ("I10.x00", "原发性高血压"),
                                   ("I50.900", "心力衰竭"), ("I48.x01", "心房颤动")],
     [("36.0601", "经皮冠状动脉支架置入术")]),
    ("NK02", "呼吸内科", False, [("J18.900", "肺炎"), ("J44.100", "慢性阻塞性肺疾病急性加重"),
                                 ("J45.900", "支气管哮喘"), ("C34.900", "肺恶性肿瘤")], []),
    ("NK03", "内分泌科", False, [("E11.900", "2型糖尿病"), ("E11.200", "2型糖尿病肾病"),
                                 ("E05.900", "甲状腺功能亢进症")], []),
    ("NK04", "神经内科", False, [("I63.900", "脑梗死"), ("G40.900", "癫痫"), ("G20.x00", "帕金森病")], []),
    ("WK01", "普通外科", True, [("K35.800", "急性阑尾炎"), ("K80.100", "胆囊结石伴慢性胆囊炎"),
                                ("K40.900", "腹股沟疝")],
     [("47.0901", "腹腔镜下阑尾切除术"), ("51.2301", "腹腔镜下胆囊切除术"), ("53.0201", "腹股沟斜疝修补术")]),
    ("WK02", "骨科", True, [("S72.000", "股骨颈骨折"), ("M17.900", "膝关节骨关节炎"), ("M51.202", "腰椎间盘突出症")],
     [("81.5101", "全髋关节置换术"), ("81.5401", "全膝关节置换术"), ("80.5101", "腰椎间盘切除术")]),
    ("FK01", "妇产科", True, [("O80.000", "单胎顺产"), ("D25.900", "子宫平滑肌瘤")],
     [("74.1x01", "子宫下段剖宫产术"), ("68.2901", "子宫肌瘤切除术")]),
    ("ZL01", "肿瘤科", False, [("C16.900", "胃恶性肿瘤"), ("C50.900", "乳腺恶性肿瘤"), ("C18.900", "结肠恶性肿瘤")],
     [("99.2501", "化学治疗")]),
]
SYMPTOMS = {
    "心血管内科": "反复胸闷、胸痛", "呼吸内科": "咳嗽、咳痰伴发热", "内分泌科": "口干、多饮、多尿",
    "神经内科": "左侧肢体无力", "普通外科": "右下腹痛", "骨科": "外伤后髋部疼痛、活动受限",
    "妇产科": "停经39周，下腹阵痛", "肿瘤科": "上腹部不适伴消瘦",
}
LAB_ITEMS = [("白细胞计数", "10^9/L", 3.5, 9.5), ("血红蛋白", "g/L", 115, 150), ("血小板计数", "10^9/L", 125, 350),
             ("C反应蛋白", "mg/L", 0, 10), ("空腹血糖", "mmol/L", 3.9, 6.1), ("肌酐", "μmol/L", 57, 111),
             ("丙氨酸氨基转移酶", "U/L", 9, 50), ("钾", "mmol/L", 3.5, 5.3), ("糖化血红蛋白", "%", 4.0, 6.0)]


@dataclass
class DemoDocument:
    type_code: str
    title: str
    pages: list[list[str]]
    source_id: str
    kind: str = "pdf"  # pdf (born-digital) | ofd (LIS/ECG deliver OFD) | scan (paper, needs OCR)

    @property
    def scanned(self) -> bool:
        return self.kind == "scan"

    @property
    def extension(self) -> str:
        return ".ofd" if self.kind == "ofd" else ".pdf"


@dataclass
class DemoRecord:
    record_number: str
    stay: int
    name: str
    sex: str
    id_number: str
    birth: date
    department: tuple
    campus: str
    admitted_at: datetime
    discharged_at: datetime
    diagnoses: list[tuple[str, str]]
    operations: list[tuple[str, str]]
    kind: str = "normal"
    confidentiality: int = 0
    discharge_method: str = "1"
    documents: list[DemoDocument] = field(default_factory=list)

    @property
    def age(self) -> int:
        return self.admitted_at.year - self.birth.year

    @property
    def sex_name(self) -> str:
        return "男" if self.sex == "M" else "女"


def id_number(rng: random.Random, birth: date, sex: str) -> str:
    """A valid GB 11643 number: region, birth date, sequence (odd = male), check character."""
    sequence = rng.randrange(0, 99) * 10 + rng.choice([1, 3, 5, 7, 9] if sex == "M" else [0, 2, 4, 6, 8])
    first17 = f"{rng.choice(REGIONS)}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)


def generate(n: int, seed: int = 2026, *, scanned: int = 0) -> Iterator[DemoRecord]:
    """``n`` records (some patients with a second stay).

    The last ``scanned`` records carry a scanned admission record: OCR is slow, so a loader
    working in order makes the born-digital records searchable first.
    """
    rng = random.Random(seed)
    start = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
    patient_no = 0
    made = 0
    while made < n:
        patient_no += 1
        stays = 2 if rng.random() < 0.15 and made + 1 < n else 1
        sex = rng.choice("MF")
        birth = date(rng.randint(1935, 2015), rng.randint(1, 12), rng.randint(1, 28))
        person = (f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}{rng.choice(GIVEN) if rng.random() < 0.7 else ''}",
                  sex, id_number(rng, birth, sex), birth)
        for stay in range(1, stays + 1):
            admitted = start + timedelta(days=rng.randint(0, 600), hours=rng.randint(0, 12))
            record = _stay(rng, f"{100000 + patient_no:07d}", stay, person, admitted)
            record.documents = list(_documents(rng, record, scan=made >= n - scanned))
            made += 1
            yield record


def _stay(rng: random.Random, number: str, stay: int, person: tuple, admitted: datetime) -> DemoRecord:
    name, sex, idn, birth = person
    department = rng.choice(DEPARTMENTS if sex == "F" else [d for d in DEPARTMENTS if d[0] != "FK01"])
    main = rng.choice(department[3])
    others = rng.sample([d for d in department[3] if d != main], k=min(len(department[3]) - 1, rng.randint(0, 2)))
    operations = [rng.choice(department[4])] if department[4] and (department[2] or rng.random() < 0.3) else []
    died = rng.random() < 0.04
    record = DemoRecord(
        record_number=number, stay=stay, name=name, sex=sex, id_number=idn, birth=birth, department=department,
        campus=CAMPUSES[0][0] if rng.random() < 0.8 else CAMPUSES[1][0],
        admitted_at=admitted, discharged_at=admitted + timedelta(days=rng.randint(2, 15), hours=rng.randint(1, 8)),
        diagnoses=[main, *others], operations=operations, kind="death" if died else "normal",
        confidentiality=3 if rng.random() < 0.02 else (1 if rng.random() < 0.1 else 0),
        discharge_method="5" if died else rng.choice("1111124"),
    )
    if not died and rng.random() < 0.03:
        record.kind = "special"
    return record


def _documents(rng: random.Random, r: DemoRecord, scan: bool) -> Iterator[DemoDocument]:
    """Documents of one stay in archive filing order (2013 规定 art. 9)."""
    made = [
        ("C0101", "住院病案首页", _front_page(r)),
        ("C0201", "入院记录", _admission(rng, r)),
        ("C0301", "首次病程记录", _first_course(r)),
        ("C0302", "日常病程记录", _daily_course(rng, r)),
        ("C0303", "上级医师查房记录", _rounds(r)),
    ]
    if r.operations:
        made += _surgery(r)
    if r.kind == "death":
        made += [("C1501", "死亡记录", _death(r)), ("C1601", "死亡病例讨论记录", _death_discussion(r))]
    else:
        made.append(("C1401", "出院记录", _discharge(r)))
    if rng.random() < 0.2:
        made.append(("C1901", "会诊记录", _consult(r)))
    made += [
        ("C2201", "检验报告", _lab(rng, r)),
        ("C2202", "心电图报告", [[f"心电图报告  姓名：{r.name}", "窦性心律，心率78次/分。", "ST-T未见明显异常。",
                                  "诊断：正常心电图。"]]),
        ("C2301", "CT报告", _ct(r)),
        ("C2401", "体温单", [[f"体温单  {r.name}  住院号{r.record_number}",
                            *[f"第{d + 1}天 体温36.{5 + d % 4}℃ 脉搏{72 + d}次/分 呼吸18次/分" for d in range(7)]]]),
        ("C2501", "长期医嘱单", [[f"长期医嘱单  {r.name}", "二级护理", "普食", "测血压 bid", _drug(r)]]),
        ("C2602", "一般护理记录", [[f"一般护理记录  {r.name}", "患者神志清，精神可，生命体征平稳。",
                                    "遵医嘱用药，无不良反应。"]]),
        ("C2801", "费用清单", [[f"住院费用清单  {r.name}", f"床位费 {rng.randint(300, 1500)}.00 元",
                              f"药品费 {rng.randint(800, 20000)}.00 元", f"检查费 {rng.randint(200, 5000)}.00 元"]]),
    ]
    for n, (code, title, pages) in enumerate(made, start=1):
        yield DemoDocument(code, title, _paginate(pages), f"{r.record_number}-{r.stay}-{n:02d}", kind=_kind(code, scan))


def _kind(code: str, scan: bool) -> str:
    if scan and code == "C0201":
        return "scan"
    return "ofd" if code in OFD_TYPES else "pdf"


def _paginate(pages: list[list[str]]) -> list[list[str]]:
    out: list[list[str]] = []
    for page in pages:
        lines = [chunk for line in page for chunk in _wrap(line)]
        out += [lines[i:i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)] or [[]]
    return out


def _wrap(line: str) -> list[str]:
    return [line[i:i + CHARS_PER_LINE] for i in range(0, len(line), CHARS_PER_LINE)] or [""]


def _when(moment: datetime) -> str:
    return (moment + timedelta(hours=8)).strftime("%Y年%m月%d日 %H:%M")


def _front_page(r: DemoRecord) -> list[list[str]]:
    dx = r.diagnoses
    lines = [
        "住院病案首页", f"病案号：{r.record_number}  第 {r.stay} 次住院",
        f"姓名：{r.name}  性别：{r.sex_name}  年龄：{r.age}岁",
        f"身份证号：{r.id_number}", f"入院时间：{_when(r.admitted_at)}  入院科别：{r.department[1]}",
        f"出院时间：{_when(r.discharged_at)}  出院科别：{r.department[1]}",
        f"实际住院天数：{max(1, (r.discharged_at.date() - r.admitted_at.date()).days)}天",
        f"主要诊断：{dx[0][1]}  编码：{dx[0][0]}",
        *[f"其他诊断：{name}  编码：{code}" for code, name in dx[1:]],
        *[f"手术及操作：{name}  编码：{code}" for code, name in r.operations],
        f"离院方式：{r.discharge_method}",
    ]
    return [lines]


def _admission(rng: random.Random, r: DemoRecord) -> list[list[str]]:
    complaint = SYMPTOMS[r.department[1]]
    days = rng.randint(1, 30)
    return [[
        "入院记录", f"姓名：{r.name}  性别：{r.sex_name}  年龄：{r.age}岁  科别：{r.department[1]}",
        f"入院时间：{_when(r.admitted_at)}  病史陈述者：患者本人",
        f"主诉：{complaint}{days}天。",
        f"现病史：患者{days}天前无明显诱因出现{complaint}，休息后不能缓解，为进一步诊治来我院，门诊以“{r.diagnoses[0][1]}”收入我科。"
        "病程中患者精神、饮食、睡眠一般，大小便正常，体重无明显变化。",
        "既往史：否认肝炎、结核等传染病史，"
        + ("有高血压病史10年，规律服用硝苯地平控释片。" if rng.random() < 0.4 else "否认高血压、糖尿病史。")
        + "否认手术、外伤及输血史，否认药物及食物过敏史。",
        "个人史：生于原籍，无长期外地居住史，无吸烟饮酒嗜好。", "婚育史：已婚，育有一子。",
        "家族史：父母体健，否认家族遗传病史。",
        f"体格检查：体温36.{rng.randint(3, 9)}℃，脉搏{rng.randint(62, 98)}次/分，呼吸{rng.randint(16, 22)}次/分，"
        f"血压{rng.randint(105, 160)}/{rng.randint(62, 98)}mmHg。"
        "神志清楚，查体合作，双肺呼吸音清，心律齐，腹软，无压痛。",
        "辅助检查：血常规、生化检查见检验报告。",
        "初步诊断：" + "；".join(name for _, name in r.diagnoses),
        "医师签名：住院医师 陈明",
    ]]


def _first_course(r: DemoRecord) -> list[list[str]]:
    return [["首次病程记录", f"{_when(r.admitted_at + timedelta(hours=2))}",
             f"病例特点：患者{r.name}，{r.sex_name}，{r.age}岁，因{SYMPTOMS[r.department[1]]}入院。",
             f"拟诊讨论：结合病史、查体及辅助检查，初步诊断为{r.diagnoses[0][1]}，需与相关疾病鉴别。",
             "诊疗计划：完善相关检查，予对症支持治疗，密切观察病情变化。"]]


def _daily_course(rng: random.Random, r: DemoRecord) -> list[list[str]]:
    pages = []
    for day in range(rng.randint(2, 4)):
        when = r.admitted_at + timedelta(days=day + 1)
        pages.append([f"日常病程记录  {_when(when)}",
                      f"患者今日{rng.choice(['症状较前缓解', '一般情况可', '诉仍有轻度不适', '精神睡眠好'])}，"
                      "查体：生命体征平稳，双肺未闻及干湿啰音。",
                      f"继续目前治疗方案，{_drug(r)}，复查血常规。" * 3])
    return pages


def _rounds(r: DemoRecord) -> list[list[str]]:
    return [["上级医师查房记录", f"{_when(r.admitted_at + timedelta(days=1))} 主治医师李华查房",
             f"同意目前诊断{r.diagnoses[0][1]}，指示：继续完善检查，调整治疗方案。"]]


def _surgery(r: DemoRecord) -> list[tuple[str, str, list[list[str]]]]:
    code, op = r.operations[0]
    day = r.admitted_at + timedelta(days=1, hours=3)
    return [
        ("C0402", "术前小结", [["术前小结", f"术前诊断：{r.diagnoses[0][1]}", f"拟施手术：{op}",
                                "手术指征明确，无绝对禁忌。"]]),
        ("C0501", "手术知情同意书", [["手术知情同意书", f"患者{r.name}拟行{op}，",
                                      "术中术后可能出现出血、感染等风险，患者及家属已知情并同意。"]]),
        ("C0601", "麻醉知情同意书", [["麻醉知情同意书", "拟行全身麻醉，麻醉风险已告知，家属签字同意。"]]),
        ("C0701", "麻醉术前访视记录", [["麻醉术前访视记录", "ASA分级Ⅱ级，心肺功能可耐受麻醉。"]]),
        ("C0801", "手术安全核查记录", [["手术安全核查记录", "麻醉实施前、手术开始前、患者离开手术室前三方核查无误。"]]),
        ("C0901", "手术清点记录", [["手术清点记录", "器械、纱布、缝针术前术后清点数目相符。"]]),
        ("C1001", "麻醉记录", [["麻醉记录", f"{_when(day)} 麻醉开始，全身麻醉，气管插管，术中生命体征平稳。"]]),
        ("C1101", "手术记录", [["手术记录", f"手术日期：{_when(day)}", f"手术名称：{op}（{code}）",
                              "麻醉方式：全身麻醉  主刀：王刚  助手：赵敏",
                              "手术经过：患者取仰卧位，常规消毒铺巾，逐层进入，探查见病变，按计划完成手术，"
                              "术中出血约50ml，未输血，清点器械纱布无误后逐层关闭切口。"]]),
        ("C1201", "麻醉术后访视记录", [["麻醉术后访视记录", "患者清醒，无恶心呕吐，无麻醉相关并发症。"]]),
        ("C1301", "术后首次病程记录", [["术后首次病程记录", f"患者于今日在全麻下行{op}，手术顺利，术后安返病房。"]]),
    ]


def _discharge(r: DemoRecord) -> list[list[str]]:
    return [["出院记录", f"入院时间：{_when(r.admitted_at)}  出院时间：{_when(r.discharged_at)}",
             f"入院情况：{SYMPTOMS[r.department[1]]}。", "诊疗经过：入院后完善检查，予积极治疗，病情好转。",
             "出院诊断：" + "；".join(name for _, name in r.diagnoses),
             "出院医嘱：低盐低脂饮食，规律服药，两周后门诊复查，不适随诊。"]]


def _death(r: DemoRecord) -> list[list[str]]:
    return [["死亡记录", f"死亡时间：{_when(r.discharged_at)}",
             f"死亡原因：{r.diagnoses[0][1]}，经积极抢救无效，宣告临床死亡。",
             "死亡诊断：" + "；".join(n for _, n in r.diagnoses)]]


def _death_discussion(r: DemoRecord) -> list[list[str]]:
    return [["死亡病例讨论记录", f"讨论时间：{_when(r.discharged_at + timedelta(days=3))}", "主持人：科主任 周建国",
             f"讨论意见：患者{r.diagnoses[0][1]}诊断明确，病情危重，抢救及时，死亡原因明确。"]]


def _consult(r: DemoRecord) -> list[list[str]]:
    return [["会诊记录", "申请科室：" + r.department[1], "会诊科室：心血管内科",
             "会诊意见：建议完善心脏彩超，控制心室率。"]]


def _lab(rng: random.Random, r: DemoRecord) -> list[list[str]]:
    lines = [f"检验报告单  姓名：{r.name}  病案号：{r.record_number}", "项目  结果  单位  参考范围"]
    for name, unit, low, high in rng.sample(LAB_ITEMS, 6):
        value = round(rng.uniform(low * 0.7, high * 1.3), 1)
        flag = "↑" if value > high else ("↓" if value < low else "")
        lines.append(f"{name}  {value}{flag}  {unit}  {low}-{high}")
    return [lines]


def _ct(r: DemoRecord) -> list[list[str]]:
    return [["CT检查报告", "检查部位：胸部", "影像所见：双肺纹理增多，右肺下叶见斑片状高密度影，纵隔未见肿大淋巴结。",
             "诊断意见：右肺下叶炎症，考虑肺炎。" if r.department[1] == "呼吸内科"
             else "诊断意见：双肺未见明显异常，未见肺炎征象。"]]


def _drug(r: DemoRecord) -> str:
    drugs = {"心血管内科": "阿司匹林肠溶片 100mg qd", "内分泌科": "二甲双胍 0.5g tid",
             "呼吸内科": "头孢呋辛 1.5g ivgtt bid"}
    return drugs.get(r.department[1], "奥美拉唑 20mg qd")


# --------------------------------------------------------------------------- files


def pdf_bytes(document: DemoDocument, record: DemoRecord) -> bytes:
    """Born-digital PDF with a Chinese text layer (reportlab's built-in CID font)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    pdf.setTitle(document.title)
    for number, lines in enumerate(document.pages, start=1):
        pdf.setFont(CID_FONT, 10)
        pdf.drawString(50, A4[1] - 40, f"示例医院  {record.name}  病案号 {record.record_number}  第{number}页")
        pdf.setFont(CID_FONT, 12)
        y = A4[1] - 72
        for line in lines:
            pdf.drawString(60, y, line)
            y -= 21
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def scanned_pdf_bytes(document: DemoDocument, record: DemoRecord) -> bytes:
    """The same pages as images only (a scanned paper record: needs OCR)."""
    import pypdfium2 as pdfium
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    source = pdfium.PdfDocument(pdf_bytes(document, record))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    for index in range(len(source)):
        image = source[index].render(scale=200 / 72).to_pil().convert("L")
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=80)
        pdf.drawImage(ImageReader(io.BytesIO(buffer.getvalue())), 0, 0, width=A4[0], height=A4[1])
        pdf.showPage()
    source.close()
    pdf.save()
    return out.getvalue()


def ofd_bytes(document: DemoDocument, record: DemoRecord) -> bytes:
    """The same pages as OFD: a page image plus the positioned text (as LIS/ECG systems deliver)."""
    from bingan.formats.document import open_document
    from bingan.formats.ofd import write_ofd

    with open_document(pdf_bytes(document, record), "application/pdf") as pdf:
        pages = [(pdf.render(t.number, dpi=OFD_DPI).convert("L"), t) for t in pdf.page_texts(ocr=False)]
    return write_ofd(pages, title=document.title)


def document_bytes(document: DemoDocument, record: DemoRecord) -> bytes:
    if document.kind == "scan":
        return scanned_pdf_bytes(document, record)
    if document.kind == "ofd":
        return ofd_bytes(document, record)
    return pdf_bytes(document, record)


def write_files(records: list[DemoRecord], folder: Path) -> list[Path]:
    """Born-digital PDFs on disk (bench input)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for record in records:
        for document in record.documents:
            path = folder / f"{document.source_id}.pdf"
            path.write_bytes(pdf_bytes(document, record))
            paths.append(path)
    return paths
