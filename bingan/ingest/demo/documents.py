"""The documents of one stay, in archive filing order (2013 规定 art. 9), as a hospital writes them.

A page is a list of lines; a line is text or a table row (a tuple of cells, drawn with borders).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from bingan.ingest.demo.hospital import (
    ANAESTHETISTS,
    COMPLAINTS,
    IMAGING_DOCTORS,
    LAB_STAFF,
    PATHOLOGISTS,
    STAFF,
    DemoRecord,
)
from bingan.ingest.demo.reports import imaging, imaging_opinion, lab_pages, pathology

HOSPITAL = "示例医院"
OFD_TYPES = {"C2201", "C2202"}  # lab and ECG reports: the systems that typically deliver OFD
LINES_PER_PAGE = 34
CHARS_PER_LINE = 40
Line = str | tuple[str, ...]
HABITS = ["无吸烟饮酒嗜好", "吸烟20年，每日10支", "偶饮酒"]


@dataclass
class DemoDocument:
    type_code: str
    title: str
    pages: list[list[Line]]
    source_id: str
    kind: str = "pdf"  # pdf (born-digital) | ofd (LIS/ECG deliver OFD) | scan (paper, needs OCR)
    author: str = ""
    revision: int = 1

    @property
    def scanned(self) -> bool:
        return self.kind == "scan"

    @property
    def extension(self) -> str:
        return ".ofd" if self.kind == "ofd" else ".pdf"


def documents(rng: random.Random, r: DemoRecord, scan: bool) -> Iterator[DemoDocument]:
    t = r.team
    made = [
        ("C0101", "住院病案首页", front_page(r), t.resident),
        ("C0201", "入院记录", admission(rng, r), t.resident),
        ("C0301", "首次病程记录", first_course(r), t.resident),
        ("C0302", "日常病程记录", daily_course(rng, r), t.resident),
        ("C0303", "上级医师查房记录", rounds(r), t.attending),
    ]
    if r.operations:
        made += surgery(rng, r)
    if r.kind == "death":
        made += [
            ("C1501", "死亡记录", death(r), t.resident),
            ("C1601", "死亡病例讨论记录", death_discussion(r), t.director),
        ]
    else:
        made.append(("C1401", "出院记录", discharge(r), t.resident))
    if rng.random() < 0.15:
        made.append(("C1901", "会诊记录", consult(r), "会诊医师 " + t.chief))
    found = pathology(r)
    if found:
        made.append(("C2101", "病理报告", found, rng.choice(PATHOLOGISTS)))
    made += [
        ("C2201", "检验报告", lab_pages(rng, r), rng.choice(LAB_STAFF)),
        (
            "C2202",
            "心电图报告",
            [
                [
                    f"心电图报告  姓名：{r.name}  性别：{r.sex_name}  年龄：{r.age}岁",
                    f"心率{rng.randint(62, 96)}次/分  PR间期0.16s  QRS时限0.09s",
                    "窦性心律。ST-T未见明显异常。",
                    "诊断：正常心电图。",
                ]
            ],
            t.resident,
        ),
    ]
    code, title, pages = imaging(r)
    made += [
        (code, title, pages, rng.choice(IMAGING_DOCTORS)),
        ("C2401", "体温单", temperature_chart(rng, r), t.nurse),
        ("C2501", "长期医嘱单", orders(r), t.resident),
        ("C2602", "一般护理记录", nursing(rng, r), t.nurse),
        (
            "C2801",
            "费用清单",
            [
                [
                    f"住院费用清单  {r.name}  住院号{r.record_number}",
                    ("项目", "金额（元）"),
                    ("床位费", f"{rng.randint(300, 1500)}.00"),
                    ("药品费", f"{rng.randint(800, 20000)}.00"),
                    ("检查费", f"{rng.randint(200, 5000)}.00"),
                ]
            ],
            "",
        ),
    ]
    for n, (code, title, pages, author) in enumerate(made, start=1):
        yield DemoDocument(
            code, title, paginate(pages), f"{r.record_number}-{r.stay}-{n:02d}", kind=_kind(code, scan), author=author
        )


def revised(rng: random.Random, r: DemoRecord) -> list[DemoDocument]:
    """A second version of the discharge summary or the first course record (about one stay in eight)."""
    if rng.random() >= 0.12:
        return []
    for doc in r.documents:
        if doc.type_code in ("C1401", "C0301"):
            pages = [[*page] for page in doc.pages]
            pages[-1].append(
                f"（{_when(r.discharged_at + timedelta(days=1))} {r.team.attending}修改：补充诊断依据，核对用药剂量）"
            )
            return [DemoDocument(doc.type_code, doc.title, pages, doc.source_id, doc.kind, doc.author, revision=2)]
    return []


def _kind(code: str, scan: bool) -> str:
    if scan and code == "C0201":
        return "scan"
    return "ofd" if code in OFD_TYPES else "pdf"


def paginate(pages: list[list[Line]]) -> list[list[Line]]:
    out: list[list[Line]] = []
    for page in pages:
        lines = [chunk for line in page for chunk in _wrap(line)]
        out += [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)] or [[]]
    return out


def _wrap(line: Line) -> list[Line]:
    """Lines of at most CHARS_PER_LINE full-width characters (Latin letters and digits count half),
    never breaking inside a number, a code or a unit (a record number stays one word)."""
    if isinstance(line, tuple):
        return [line]
    out, start, width, word = [], 0, 0.0, 0
    for i, ch in enumerate(line):
        if not (ch.isascii() and ch.isalnum()) or i == 0 or not (line[i - 1].isascii() and line[i - 1].isalnum()):
            word = i
        width += 0.5 if ch.isascii() else 1
        if width > CHARS_PER_LINE:
            cut = word if word > start else i
            out.append(line[start:cut])
            start, width = cut, sum(0.5 if c.isascii() else 1 for c in line[cut : i + 1])
    return [*out, line[start:]]


def _when(moment: datetime) -> str:
    return (moment + timedelta(hours=8)).strftime("%Y年%m月%d日 %H:%M")


def _day(moment: datetime) -> str:
    return (moment + timedelta(hours=8)).strftime("%Y-%m-%d")


def front_page(r: DemoRecord) -> list[list[Line]]:
    """住院病案首页 in the national layout (卫医政发〔2011〕84号): boxes of fields, then the two tables."""
    t = r.team
    died = r.discharge_method == "5"
    head = [
        f"{HOSPITAL}  住院病案首页",
        ("医疗付费方式：城镇职工基本医疗保险", f"第 {r.stay} 次住院", f"病案号：{r.record_number}"),
        (f"姓名：{r.name}", f"性别：{r.sex_name}", f"出生日期：{r.birth:%Y-%m-%d}", f"年龄：{r.age}岁", "国籍：中国"),
        (
            f"出生地：{r.birthplace}",
            "民族：汉族",
            f"职业：{r.occupation}",
            "婚姻：" + ("未婚" if r.age < 22 else "已婚"),
        ),
        (f"身份证号：{r.id_number}", f"现住址：{r.birthplace}"),
        (
            "入院途径：" + ("急诊" if r.main_code.startswith(("S", "K35", "O")) else "门诊"),
            f"入院时间：{_when(r.admitted_at)}",
            f"入院科别：{r.dept.name}",
            "病房：" + f"{r.dept.code[-1]}病区",
        ),
        (f"出院时间：{_when(r.discharged_at)}", f"出院科别：{r.dept.name}", f"实际住院：{r.days}天"),
        (f"门（急）诊诊断：{r.diagnoses[0][1]}", f"疾病编码：{r.diagnoses[0][0]}"),
        ("出院诊断", "疾病编码", "入院病情"),
        *[
            (("主要诊断：" if i == 0 else "其他诊断：") + name, code, "1 有" if i == 0 else "3 情况不明")
            for i, (code, name) in enumerate(r.diagnoses)
        ],
        (
            "病理诊断：" + ("见病理报告" if pathology(r) else "-"),
            "药物过敏：" + ("青霉素" if r.history["allergy"] else "无"),
            "死亡患者尸检：" + ("否" if died else "-"),
            "血型：" + "ABOB"[len(r.name) % 4] + "  Rh：阳",
        ),
        (
            f"科主任：{t.director}",
            f"主任（副主任）医师：{t.chief}",
            f"主治医师：{t.attending}",
            f"住院医师：{t.resident}",
        ),
        (
            f"责任护士：{t.nurse}",
            "编码员：病案室",
            "病案质量：甲",
            f"质控日期：{_day(r.discharged_at + timedelta(days=3))}",
        ),
    ]
    surgery = [("手术及操作编码", "手术及操作日期", "手术级别", "手术及操作名称", "术者", "切口愈合等级", "麻醉方式")]
    for code, name in r.operations:
        surgery.append(
            (
                code,
                _day(r.admitted_at + timedelta(days=1)),
                "三级" if r.dept.code == "WK02" else "二级",
                name,
                t.chief,
                "Ⅱ/甲" if r.dept.code in ("WK01", "FK01") else "Ⅰ/甲",
                "椎管内麻醉" if r.dept.code == "FK01" else "全身麻醉",
            )
        )
    tail = [
        *surgery,
        (
            "离院方式："
            + {"1": "1.医嘱离院", "2": "2.医嘱转院", "4": "4.非医嘱离院", "5": "5.死亡"}[r.discharge_method],
            "出院31天内再住院计划：无",
        ),
        (f"住院总费用：{8000 + len(r.documents) * 731 + r.days * 412}.00 元", "自付金额：见费用清单"),
    ]
    return [[*head, *tail]]


def admission(rng: random.Random, r: DemoRecord) -> list[list[Line]]:
    complaint = COMPLAINTS.get(r.main_code, r.dept.complaint)
    days = rng.randint(1, 14)
    t = r.team
    teller = "患儿母亲" if r.child else "患者本人"
    return [
        [
            "再次入院记录" if r.stay > 1 else "入院记录",
            f"姓名：{r.name}  性别：{r.sex_name}  年龄：{r.age}岁  科别：{r.dept.name}  病案号：{r.record_number}",
            f"入院时间：{_when(r.admitted_at)}  病史陈述者：{teller}  可靠程度：可靠",
            f"主诉：{complaint}{days}天。",
            f"现病史：{'患儿' if r.child else '患者'}{days}天前无明显诱因出现{complaint}，{_course_negations(r)}。"
            f"为进一步诊治来我院，门诊以“{r.diagnoses[0][1]}”收入我科。病程中精神、饮食、睡眠一般，大小便正常。",
            "既往史：" + past_history(r),
            "个人史："
            + (
                f"生于{r.birthplace}，生长发育与同龄儿相仿，按时预防接种。"
                if r.child
                else f"生于{r.birthplace}，久居本地，无疫区、疫水接触史，{rng.choice(HABITS)}。"
            ),
            "婚育史：" + marriage(rng, r),
            "家族史："
            + rng.choice(
                [
                    "父母体健，否认家族遗传病史。",
                    "父亲患高血压，否认家族遗传病及传染病史。",
                    "母亲患2型糖尿病，否认家族遗传病史。",
                ]
            ),
            f"体格检查：体温{36.4 + rng.randint(0, 25 if _febrile(r) else 4) / 10:.1f}℃，"
            f"脉搏{rng.randint(62, 110)}次/分，呼吸{rng.randint(16, 24)}次/分，"
            f"血压{rng.randint(100, 160)}/{rng.randint(60, 98)}mmHg。神志清楚，查体合作。{_exam(r)}",
            f"辅助检查：（门诊）{imaging_opinion(r)}",
            "初步诊断：" + "  ".join(f"{i}.{name}" for i, (_, name) in enumerate(r.diagnoses, start=1)),
            f"住院医师：{t.resident}    主治医师：{t.attending}",
        ]
    ]


def _febrile(r: DemoRecord) -> bool:
    return r.dept.code in ("NK02", "PK01") or r.main_code == "K35.800"


def _course_negations(r: DemoRecord) -> str:
    """What the patient does not have: the sentences a negation-aware search must step over."""
    if r.main_code == "A15.000":
        return "无咯血、胸痛，无关节疼痛"
    if r.dept.code in ("NK02", "PK01"):
        return "伴发热，最高体温39.0℃，无咯血、盗汗，无胸痛"
    if r.main_code.startswith("S"):
        return "伤后无昏迷，无胸腹部疼痛，患肢活动受限"
    if r.dept.code == "WK02":
        return "无外伤史，休息后疼痛可减轻，无晨僵"
    if r.dept.code == "FK01":
        return "无阴道流血、流液，胎动好"
    return "无发热、寒战，无咳嗽、咳痰，无恶心、呕吐"


def past_history(r: DemoRecord) -> str:
    h = r.history
    year = r.admitted_at.year
    parts = ["平素健康状况一般。" if r.age > 50 else "平素体健。"]
    parts.append("有高血压病史10年，规律服用硝苯地平控释片。" if h["htn"] else "否认高血压、糖尿病、冠心病史。")
    parts.append(
        f"有肺结核病史，{year - 12}年规律抗结核治疗6个月，已治愈。" if h["tb"] else "否认肝炎、结核、伤寒等传染病史。"
    )
    operations = []
    if h["caesarean"]:
        operations.append(f"{year - 4}年于外院行剖宫产术")
    if h["fracture"]:
        operations.append(f"{year - 7}年因外伤致右桡骨远端骨折，行手法复位石膏固定，愈合良好")
    parts.append("；".join(operations) + "。" if operations else "否认手术、外伤史。")
    parts.append("否认输血史，有青霉素过敏史。" if h["allergy"] else "否认输血史，否认药物及食物过敏史。")
    return "".join(parts) + "预防接种史随当地进行。"


def marriage(rng: random.Random, r: DemoRecord) -> str:
    if r.child:
        return "未婚。出生史：G1P1，足月顺产，出生体重3.2kg。"
    if r.sex == "M":
        return "未婚。" if r.age < 24 else f"已婚，育有{rng.choice(['一子', '一女', '一子一女'])}，配偶体健。"
    births = 1 + r.history["caesarean"]
    menses = "13岁初潮，经期5-6天，周期28-30天" + ("，已绝经" if r.age > 52 else "")
    if r.dept.code == "FK01":
        return f"{menses}，末次月经{_day(r.admitted_at - timedelta(days=273))}。已婚，G{births + 1}P{births - 1}。"
    return f"{menses}。已婚，G{births}P{births}，配偶体健。"


def _exam(r: DemoRecord) -> str:
    exams = {
        "NK02": "双肺呼吸音粗，右下肺可闻及湿啰音。",
        "PK01": "咽部充血，双肺可闻及细湿啰音。",
        "S": "患肢肿胀、压痛明显，可触及骨擦感，末梢血运良好。",
        "WK02": "双膝关节内侧压痛，活动时可闻及骨摩擦音。",
        "FK01": "宫高33cm，腹围98cm，胎心140次/分，头先露。",
        "WK01": "腹软，右下腹压痛，无反跳痛。",
        "NK01": "双肺呼吸音清，心律齐，各瓣膜听诊区未闻及病理性杂音。",
        "NK04": "左侧肢体肌力3级，左侧巴氏征阳性。",
    }
    return exams.get(
        "S" if r.main_code.startswith("S") else r.dept.code, "双肺呼吸音清，未闻及干湿啰音，心律齐，腹软，无压痛。"
    )


def first_course(r: DemoRecord) -> list[list[Line]]:
    return [
        [
            "首次病程记录",
            _when(r.admitted_at + timedelta(hours=2)),
            f"病例特点：{r.name}，{r.sex_name}，{r.age}岁，因{COMPLAINTS.get(r.main_code, r.dept.complaint)}入院。",
            f"拟诊讨论：结合病史、查体及辅助检查，初步诊断为{r.diagnoses[0][1]}（{r.diagnoses[0][0]}），需与相关疾病鉴别。",
            "诊疗计划：完善血常规、生化、影像学检查，予对症支持治疗，密切观察病情变化。",
            f"住院医师：{r.team.resident}",
        ]
    ]


def daily_course(rng: random.Random, r: DemoRecord) -> list[list[Line]]:
    pages = []
    for day in range(rng.randint(2, 4)):
        pages.append(
            [
                f"日常病程记录  {_when(r.admitted_at + timedelta(days=day + 1, hours=1))}",
                f"患者今日{rng.choice(['症状较前缓解', '一般情况可', '诉仍有轻度不适', '精神睡眠好'])}，"
                "查体：生命体征平稳。" + _exam(r),
                f"继续目前治疗方案，{drug(r)}，复查血常规。",
                f"医师签名：{r.team.resident}",
            ]
        )
    return pages


def rounds(r: DemoRecord) -> list[list[Line]]:
    return [
        [
            "上级医师查房记录",
            f"{_when(r.admitted_at + timedelta(days=1))} {r.team.attending}主治医师查房",
            f"同意目前诊断{r.diagnoses[0][1]}，指示：继续完善检查，调整治疗方案。",
            f"{_when(r.admitted_at + timedelta(days=2))} {r.team.chief}主任医师查房",
            "病情分析：诊断明确，治疗有效，继续观察。",
        ]
    ]


def surgery(rng: random.Random, r: DemoRecord) -> list[tuple[str, str, list[list[Line]], str]]:
    code, op = r.operations[0]
    t = r.team
    day = r.admitted_at + timedelta(days=1, hours=3)
    anaesthetist = rng.choice(ANAESTHETISTS)
    way = "椎管内麻醉" if r.dept.code == "FK01" else "全身麻醉"
    return [
        (
            "C0402",
            "术前小结",
            [
                [
                    "术前小结",
                    f"术前诊断：{r.diagnoses[0][1]}",
                    f"拟施手术：{op}",
                    f"拟施麻醉：{way}",
                    "手术指征明确，无绝对禁忌。",
                    f"手术者：{t.chief}",
                ]
            ],
            t.resident,
        ),
        (
            "C0501",
            "手术知情同意书",
            [
                [
                    "手术知情同意书",
                    f"患者{r.name}拟行{op}，",
                    "术中术后可能出现出血、感染等风险，患者及家属已知情并同意。",
                    f"谈话医师：{t.attending}",
                ]
            ],
            t.attending,
        ),
        (
            "C0601",
            "麻醉知情同意书",
            [["麻醉知情同意书", f"拟行{way}，麻醉风险已告知，家属签字同意。", f"麻醉医师：{anaesthetist}"]],
            anaesthetist,
        ),
        ("C0701", "麻醉术前访视记录", [["麻醉术前访视记录", "ASA分级Ⅱ级，心肺功能可耐受麻醉。"]], anaesthetist),
        (
            "C0801",
            "手术安全核查记录",
            [
                [
                    "手术安全核查记录",
                    ("核查项目", "麻醉实施前", "手术开始前", "离室前"),
                    ("患者身份", "√", "√", "√"),
                    ("手术部位与标识", "√", "√", "-"),
                    ("签名", anaesthetist, t.chief, t.nurse),
                ]
            ],
            t.nurse,
        ),
        (
            "C0901",
            "手术清点记录",
            [
                [
                    "手术清点记录",
                    ("物品", "术前", "关腔前", "关腔后"),
                    ("纱布", "20", "20", "20"),
                    ("缝针", "10", "10", "10"),
                    ("器械", "32", "32", "32"),
                    (f"器械护士：{t.nurse}",),
                ]
            ],
            t.nurse,
        ),
        (
            "C1001",
            "麻醉记录",
            [["麻醉记录", f"{_when(day)} 麻醉开始，{way}，术中生命体征平稳。", f"麻醉医师：{anaesthetist}"]],
            anaesthetist,
        ),
        (
            "C1101",
            "手术记录",
            [
                [
                    "手术记录",
                    f"手术日期：{_when(day)}",
                    f"手术名称：{op}（{code}）",
                    f"麻醉方式：{way}  主刀：{t.chief}  一助：{t.attending}  二助：{t.resident}",
                    "手术经过：患者取仰卧位，常规消毒铺巾，逐层进入，探查见病变，按计划完成手术，"
                    f"术中出血约{rng.choice([50, 100, 200, 300])}ml，清点器械纱布无误后逐层关闭切口。",
                ]
            ],
            t.chief,
        ),
        ("C1201", "麻醉术后访视记录", [["麻醉术后访视记录", "患者清醒，无恶心呕吐，无麻醉相关并发症。"]], anaesthetist),
        (
            "C1301",
            "术后首次病程记录",
            [["术后首次病程记录", f"患者于今日在{way}下行{op}，手术顺利，术后安返病房。", f"医师签名：{t.resident}"]],
            t.resident,
        ),
    ]


def discharge(r: DemoRecord) -> list[list[Line]]:
    return [
        [
            "出院记录",
            f"入院时间：{_when(r.admitted_at)}  出院时间：{_when(r.discharged_at)}  住院{r.days}天",
            f"入院情况：{COMPLAINTS.get(r.main_code, r.dept.complaint)}。",
            "诊疗经过：入院后完善检查，"
            + (f"行{r.operations[0][1]}，" if r.operations else "")
            + "予积极治疗，病情好转。",
            "出院诊断：" + "  ".join(f"{i}.{name}" for i, (_, name) in enumerate(r.diagnoses, start=1)),
            "出院医嘱：规律服药，两周后门诊复查，不适随诊。",
            f"医师签名：{r.team.resident}  {r.team.attending}",
        ]
    ]


def death(r: DemoRecord) -> list[list[Line]]:
    return [
        [
            "死亡记录",
            f"死亡时间：{_when(r.discharged_at)}",
            f"死亡原因：{r.diagnoses[0][1]}，经积极抢救无效，宣告临床死亡。",
            "死亡诊断：" + "；".join(n for _, n in r.diagnoses),
            f"医师签名：{r.team.resident}",
        ]
    ]


def death_discussion(r: DemoRecord) -> list[list[Line]]:
    return [
        [
            "死亡病例讨论记录",
            f"讨论时间：{_when(r.discharged_at + timedelta(days=3))}",
            f"主持人：科主任 {r.team.director}",
            f"参加人员：{r.team.chief}、{r.team.attending}、{r.team.resident}",
            f"讨论意见：患者{r.diagnoses[0][1]}诊断明确，病情危重，抢救及时，死亡原因明确。",
        ]
    ]


def consult(r: DemoRecord) -> list[list[Line]]:
    return [
        [
            "会诊记录",
            "申请科室：" + r.dept.name,
            "会诊科室：心血管内科",
            "会诊意见：建议完善心脏彩超，控制心室率。",
            f"会诊医师：{r.team.chief}",
        ]
    ]


def temperature_chart(rng: random.Random, r: DemoRecord) -> list[list[Line]]:
    rows: list[Line] = [("日期", "体温(℃)", "脉搏(次/分)", "呼吸(次/分)", "血压(mmHg)", "大便(次)")]
    fever = _febrile(r)
    for day in range(min(r.days, 7)):
        temp = 36.4 + rng.randint(0, 4) / 10 + (max(0, 2 - day) * 0.8 if fever else 0)
        rows.append(
            (
                _day(r.admitted_at + timedelta(days=day)),
                f"{temp:.1f}",
                str(rng.randint(68, 100)),
                str(rng.randint(16, 22)),
                f"{rng.randint(105, 145)}/{rng.randint(62, 90)}",
                str(rng.randint(0, 2)),
            )
        )
    return [[f"体温单  {r.name}  {r.dept.name}  住院号{r.record_number}", *rows]]


def orders(r: DemoRecord) -> list[list[Line]]:
    rows: list[Line] = [("开始日期", "医嘱内容", "医师", "护士")]
    start = _day(r.admitted_at)
    for text in (f"{r.dept.name}护理常规", "二级护理", "普食" if not r.child else "儿童饮食", drug(r)):
        rows.append((start, text, r.team.resident, r.team.nurse))
    return [[f"长期医嘱单  {r.name}  {r.dept.name}", *rows]]


def nursing(rng: random.Random, r: DemoRecord) -> list[list[Line]]:
    rows: list[Line] = [("日期时间", "体温", "脉搏", "血压", "病情观察及护理措施", "签名")]
    notes = [
        "患者神志清，精神可，生命体征平稳",
        "遵医嘱用药，无不良反应",
        "予健康宣教，患者知晓",
        "夜间睡眠可，无特殊不适",
    ]
    if r.operations:
        notes.insert(1, "术后安返病房，切口敷料干燥，无渗血")
    for day, note in enumerate(notes):
        rows.append(
            (
                _when(r.admitted_at + timedelta(days=day, hours=2)),
                f"36.{rng.randint(4, 9)}",
                str(rng.randint(68, 96)),
                f"{rng.randint(105, 145)}/{rng.randint(62, 90)}",
                note,
                r.team.nurse if day % 2 == 0 else rng.choice(STAFF[r.dept.code].nurses),
            )
        )
    return [[f"一般护理记录  {r.name}  {r.dept.name}  床号{rng.randint(1, 40)}", *rows]]


def drug(r: DemoRecord) -> str:
    drugs = {
        "NK01": "阿司匹林肠溶片 100mg qd",
        "NK03": "二甲双胍 0.5g tid",
        "NK02": "头孢呋辛 1.5g ivgtt bid",
        "PK01": "阿莫西林克拉维酸钾 按体重 ivgtt bid",
        "FK01": "缩宫素 10U im st",
        "WK02": "低分子肝素 4000U ih qd",
    }
    if r.main_code == "A15.000":
        return "异烟肼 0.3g qd、利福平 0.45g qd、吡嗪酰胺 1.5g qd、乙胺丁醇 0.75g qd"
    return drugs.get(r.dept.code, "奥美拉唑 20mg qd")
