"""The demo hospital: departments with their diagnoses and operations, staff, and patients per department.

Ages and sexes follow the department (产科: women 20–40; 儿科: children), diagnoses are ICD-10,
operations ICD-9-CM-3 (临床版 style codes), every name comes from a seeded generator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from bingan.storage.models.identity import check_char

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红玉梅海燕文博宇浩然子涵欣怡雨桐思远俊"
REGIONS = [
    ("110105", "北京市朝阳区"),
    ("310104", "上海市徐汇区"),
    ("440106", "广州市天河区"),
    ("510107", "成都市武侯区"),
    ("420106", "武汉市武昌区"),
    ("320102", "南京市玄武区"),
    ("330106", "杭州市西湖区"),
    ("370102", "济南市历下区"),
    ("210102", "沈阳市和平区"),
    ("610113", "西安市雁塔区"),
]
CAMPUSES = [("main", "本院"), ("east", "东院区")]
OCCUPATIONS = ["职员", "工人", "农民", "退休人员", "个体经营者", "教师", "无业人员"]


@dataclass(frozen=True)
class Diagnosis:
    code: str  # ICD-10
    name: str
    operation: tuple[str, str] | None = None  # ICD-9-CM-3 (code, name) usually done for it


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    ages: tuple[int, int]
    sexes: str  # "MF" or "F"
    main: tuple[Diagnosis, ...]
    others: tuple[Diagnosis, ...]
    complaint: str

    @property
    def surgical(self) -> bool:
        return any(d.operation for d in self.main)


D = Diagnosis
HTN, T2DM = D("I10.x00", "原发性高血压"), D("E11.900", "2型糖尿病")
DEPARTMENTS = [
    Department(
        "NK01",
        "心血管内科",
        (45, 88),
        "MF",
        (
            D("I25.103", "冠状动脉粥样硬化性心脏病", ("36.0601", "经皮冠状动脉药物洗脱支架置入术")),
            D("I50.900", "心力衰竭"),
            D("I48.x01", "心房颤动"),
        ),
        (HTN, T2DM, D("E78.500", "高脂血症")),
        "反复胸闷、胸痛",
    ),
    Department(
        "NK02",
        "呼吸内科",
        (18, 88),
        "MF",
        (
            D("J18.900", "肺炎"),
            D("J18.900", "肺炎"),
            D("A15.000", "肺结核，痰涂片阳性"),
            D("J44.100", "慢性阻塞性肺疾病急性加重"),
            D("J45.900", "支气管哮喘"),
            D("C34.900", "肺恶性肿瘤"),
        ),
        (HTN, D("J96.900", "呼吸衰竭"), D("I27.900", "肺源性心脏病")),
        "咳嗽、咳痰伴发热",
    ),
    Department(
        "NK03",
        "内分泌科",
        (20, 85),
        "MF",
        (T2DM, D("E11.200", "2型糖尿病性肾病"), D("E05.900", "甲状腺功能亢进症")),
        (HTN, D("E78.500", "高脂血症")),
        "口干、多饮、多尿",
    ),
    Department(
        "NK04",
        "神经内科",
        (40, 90),
        "MF",
        (D("I63.900", "脑梗死"), D("G40.900", "癫痫"), D("G20.x00", "帕金森病")),
        (HTN, T2DM),
        "左侧肢体无力",
    ),
    Department(
        "WK01",
        "普通外科",
        (18, 85),
        "MF",
        (
            D("K35.800", "急性阑尾炎", ("47.0901", "腹腔镜下阑尾切除术")),
            D("K80.100", "胆囊结石伴慢性胆囊炎", ("51.2301", "腹腔镜下胆囊切除术")),
            D("K40.900", "腹股沟疝", ("53.0201", "腹股沟斜疝无张力修补术")),
        ),
        (HTN, T2DM),
        "腹痛",
    ),
    Department(
        "WK02",
        "骨科",
        (18, 90),
        "MF",
        (
            D("S72.000", "股骨颈骨折", ("81.5101", "全髋关节置换术")),
            D("S72.300", "股骨干骨折", ("79.3501", "股骨骨折切开复位内固定术")),
            D("S82.200", "胫骨干骨折", ("79.3601", "胫骨骨折切开复位内固定术")),
            D("S52.500", "桡骨远端骨折", ("79.3201", "桡骨骨折切开复位内固定术")),
            D("M17.900", "膝关节骨关节炎", ("81.5401", "全膝关节置换术")),
        ),
        (HTN, T2DM, D("M81.900", "骨质疏松"), D("J18.200", "坠积性肺炎")),
        "外伤后肢体疼痛、活动受限",
    ),
    Department(
        "FK01",
        "产科",
        (20, 40),
        "F",
        (
            D("O82.000", "经选择性剖宫产术的单胎分娩", ("74.1x01", "子宫下段剖宫产术")),
            D("O82.000", "经选择性剖宫产术的单胎分娩", ("74.1x01", "子宫下段剖宫产术")),
            D("O80.000", "单胎顺产", ("73.5901", "手法助产")),
        ),
        (D("O34.201", "瘢痕子宫妊娠"), D("O24.400", "妊娠期糖尿病"), D("O99.001", "妊娠合并贫血")),
        "停经39周，下腹阵痛",
    ),
    Department(
        "FK02",
        "妇科",
        (25, 60),
        "F",
        (
            D("D25.900", "子宫平滑肌瘤", ("68.2901", "子宫肌瘤切除术")),
            D("N83.200", "卵巢囊肿", ("65.2501", "腹腔镜下卵巢囊肿剥除术")),
        ),
        (D("D50.900", "缺铁性贫血"),),
        "发现盆腔包块",
    ),
    Department(
        "PK01",
        "儿科",
        (1, 14),
        "MF",
        (
            D("J18.000", "支气管肺炎"),
            D("J06.900", "急性上呼吸道感染"),
            D("A08.400", "病毒性肠炎"),
            D("B08.400", "手足口病"),
        ),
        (D("E87.201", "代谢性酸中毒"), D("D64.900", "贫血")),
        "发热、咳嗽",
    ),
    Department(
        "ZL01",
        "肿瘤科",
        (35, 85),
        "MF",
        (
            D("C16.900", "胃恶性肿瘤", ("99.2501", "静脉化学治疗")),
            D("C18.900", "结肠恶性肿瘤", ("99.2501", "静脉化学治疗")),
            D("C50.900", "乳腺恶性肿瘤", ("99.2501", "静脉化学治疗")),
        ),
        (HTN, D("D61.101", "化疗后骨髓抑制")),
        "化疗后复查，上腹部不适",
    ),
]
# Complaints that differ from the department's usual one (主诉 follows the main diagnosis).
COMPLAINTS = {
    "A15.000": "咳嗽、咳痰伴午后低热、盗汗",
    "J44.100": "反复咳嗽、咳痰伴气喘，加重",
    "C34.900": "刺激性干咳伴痰中带血",
    "J45.900": "发作性喘息、胸闷",
    "I50.900": "活动后气促伴双下肢水肿",
    "I48.x01": "阵发性心悸",
    "K35.800": "转移性右下腹痛",
    "K80.100": "反复右上腹痛",
    "K40.900": "右侧腹股沟区可复性包块",
    "M17.900": "双膝关节疼痛，上下楼加重",
    "O80.000": "停经39周，下腹阵痛",
    "A08.400": "腹泻、呕吐",
    "B08.400": "发热伴手、足、口腔疱疹",
    "D25.900": "月经量增多，发现子宫肌瘤",
    "C50.900": "乳腺癌术后化疗",
    "G40.900": "发作性意识丧失伴四肢抽搐",
    "G20.x00": "双手静止性震颤、行动迟缓",
}


@dataclass(frozen=True)
class Staff:
    """One department's doctors and nurses, whose names appear on its documents."""

    director: str  # 科主任
    chiefs: tuple[str, ...]  # 主任/副主任医师
    attendings: tuple[str, ...]  # 主治医师
    residents: tuple[str, ...]  # 住院医师
    nurses: tuple[str, ...]


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}{rng.choice(GIVEN) if rng.random() < 0.7 else ''}"


def _staff(code: str) -> Staff:
    rng = random.Random(f"staff-{code}")  # the same people in every demo, whatever the seed
    names = list(dict.fromkeys(person_name(rng) for _ in range(40)))
    return Staff(names[0], tuple(names[1:3]), tuple(names[3:6]), tuple(names[6:10]), tuple(names[10:16]))


STAFF = {d.code: _staff(d.code) for d in DEPARTMENTS}
ANAESTHETISTS = _staff("MZK").attendings
IMAGING_DOCTORS = _staff("YXK").attendings
LAB_STAFF = _staff("JYK").nurses
PATHOLOGISTS = _staff("BLK").chiefs


@dataclass
class Team:
    director: str
    chief: str
    attending: str
    resident: str
    nurse: str


@dataclass
class DemoRecord:
    record_number: str
    stay: int
    name: str
    sex: str
    id_number: str
    birth: date
    dept: Department
    campus: str
    admitted_at: datetime
    discharged_at: datetime
    diagnoses: list[tuple[str, str]]
    operations: list[tuple[str, str]]
    team: Team
    birthplace: str = ""
    occupation: str = ""
    history: dict[str, bool] = field(default_factory=dict)  # 既往史 facts: tb, caesarean, fracture, htn, allergy
    kind: str = "normal"
    confidentiality: int = 0
    discharge_method: str = "1"
    documents: list = field(default_factory=list)
    revisions: list = field(default_factory=list)  # later versions of some documents, loaded after the first

    @property
    def age(self) -> int:
        at = self.admitted_at.date()
        return at.year - self.birth.year - ((at.month, at.day) < (self.birth.month, self.birth.day))

    @property
    def sex_name(self) -> str:
        return "男" if self.sex == "M" else "女"

    @property
    def child(self) -> bool:
        return self.age < 15

    @property
    def main_code(self) -> str:
        return self.diagnoses[0][0]

    @property
    def days(self) -> int:
        """实际住院天数: admission and discharge day count as one (DOMAIN §5)."""
        return max(1, (self.discharged_at.date() - self.admitted_at.date()).days)


def id_number(rng: random.Random, region: str, birth: date, sex: str) -> str:
    """A valid GB 11643 number: region, birth date, sequence (odd = male), check character."""
    sequence = rng.randrange(0, 99) * 10 + rng.choice([1, 3, 5, 7, 9] if sex == "M" else [0, 2, 4, 6, 8])
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)


START = datetime(2025, 1, 6, 0, 0, tzinfo=UTC)
WEIGHTS = {"NK02": 3, "WK02": 2, "FK01": 2, "PK01": 2}  # enough 肺炎, 骨折, 剖宫产 for the search examples


@dataclass(frozen=True)
class Showcase:
    """A patient the demo starts with, so that even a small demo answers every search example."""

    department: str
    diagnosis: str
    sex: str
    history: tuple[str, ...] = ()  # 既往史 facts that are true for this patient


# 肺炎, 结核 (active, and only as 否认结核病史), 骨折, 剖宫产 and J18 — and, for the 呼吸内科
# clinician, 骨折 and 剖宫产 in the past history of a ward patient.
SHOWCASE = [
    Showcase("NK02", "J18.900", "M"),
    Showcase("WK02", "S72.000", "F"),
    Showcase("FK01", "O82.000", "F", ("caesarean",)),
    Showcase("NK02", "A15.000", "M"),
    Showcase("PK01", "J18.000", "M"),
    Showcase("NK02", "J18.900", "F", ("caesarean", "fracture", "htn")),
]


def patients(rng: random.Random, shown: Showcase | None = None) -> tuple[Department, tuple]:
    """A department and a patient who plausibly lies in it."""
    dept = rng.choices(DEPARTMENTS, weights=[WEIGHTS.get(d.code, 1) for d in DEPARTMENTS])[0]
    sex = rng.choice(dept.sexes)
    if shown:
        dept, sex = next(d for d in DEPARTMENTS if d.code == shown.department), shown.sex
    if dept.code == "ZL01" and sex == "M":
        sex = rng.choice("MF")
    age = rng.randint(*dept.ages)
    if dept.code == "WK02" and rng.random() < 0.5:
        age = max(age, rng.randint(62, 90))  # hip fractures are an old people's injury
    birth = date(START.year - age - 1, rng.randint(1, 12), rng.randint(1, 28))
    code, place = rng.choice(REGIONS)
    return dept, (person_name(rng), sex, id_number(rng, code, birth, sex), birth, place)


def stay(
    rng: random.Random,
    number: str,
    stay_no: int,
    dept: Department,
    person: tuple,
    admitted: datetime,
    shown: Showcase | None = None,
) -> DemoRecord:
    name, sex, idn, birth, place = person
    mains = [d for d in dept.main if not (d.code == "C50.900" and sex == "M")]
    main = rng.choice(mains)
    if shown and stay_no == 1:
        main = next(d for d in mains if d.code == shown.diagnosis)
    others = rng.sample(dept.others, k=rng.randint(0, min(2, len(dept.others))))
    staff = STAFF[dept.code]
    died = dept.code in ("NK01", "NK02", "NK04", "ZL01") and rng.random() < 0.05
    record = DemoRecord(
        record_number=number,
        stay=stay_no,
        name=name,
        sex=sex,
        id_number=idn,
        birth=birth,
        dept=dept,
        campus=CAMPUSES[0][0] if rng.random() < 0.8 else CAMPUSES[1][0],
        admitted_at=admitted,
        discharged_at=admitted + timedelta(days=rng.randint(3, 14), hours=rng.randint(1, 8)),
        diagnoses=[(main.code, main.name), *((d.code, d.name) for d in others)],
        operations=[main.operation] if main.operation and (dept.surgical or rng.random() < 0.6) else [],
        team=Team(
            staff.director,
            rng.choice(staff.chiefs),
            rng.choice(staff.attendings),
            rng.choice(staff.residents),
            rng.choice(staff.nurses),
        ),
        birthplace=place,
        occupation="学龄儿童" if dept.code == "PK01" else rng.choice(OCCUPATIONS),
        history={
            "tb": rng.random() < 0.08 or (main.code == "A15.000" and rng.random() < 0.3),
            "caesarean": sex == "F" and dept.ages[0] >= 18 and rng.random() < 0.2,
            "fracture": dept.code != "PK01" and rng.random() < 0.08,
            "htn": rng.random() < 0.35 and dept.code not in ("PK01", "FK01"),
            "allergy": rng.random() < 0.06,
        },
        kind="death" if died else "normal",
        confidentiality=3 if rng.random() < 0.02 else (1 if rng.random() < 0.1 else 0),
        discharge_method="5" if died else rng.choice("1111124"),
    )
    record.history |= dict.fromkeys(shown.history if shown else (), True)
    if record.history["caesarean"] and main.code == "O82.000":
        record.diagnoses.insert(1, ("O34.201", "瘢痕子宫妊娠"))
    if not died and rng.random() < 0.03:
        record.kind = "special"
    return record
