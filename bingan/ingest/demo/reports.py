"""Reports from the other departments: laboratory result tables, imaging and pathology reports."""

from __future__ import annotations

import random
from datetime import timedelta

from bingan.ingest.demo.hospital import LAB_STAFF, PATHOLOGISTS, DemoRecord

# (项目, 单位, 参考下限, 参考上限)
BLOOD_COUNT = [
    ("白细胞计数(WBC)", "10^9/L", 3.5, 9.5),
    ("中性粒细胞百分比(NEUT%)", "%", 40, 75),
    ("淋巴细胞百分比(LYM%)", "%", 20, 50),
    ("红细胞计数(RBC)", "10^12/L", 3.8, 5.1),
    ("血红蛋白(HGB)", "g/L", 115, 150),
    ("血小板计数(PLT)", "10^9/L", 125, 350),
]
CHEMISTRY = [
    ("丙氨酸氨基转移酶(ALT)", "U/L", 9, 50),
    ("天门冬氨酸氨基转移酶(AST)", "U/L", 15, 40),
    ("白蛋白(ALB)", "g/L", 40, 55),
    ("肌酐(Cr)", "μmol/L", 57, 111),
    ("尿素(Urea)", "mmol/L", 3.1, 8.0),
    ("葡萄糖(GLU)", "mmol/L", 3.9, 6.1),
    ("钾(K)", "mmol/L", 3.5, 5.3),
    ("钠(Na)", "mmol/L", 137, 147),
    ("C反应蛋白(CRP)", "mg/L", 0, 10),
]
INFECTIONS = ("J18", "K35", "J06", "A08", "B08", "A15", "J44")
HIGH_WHEN = {
    "白细胞计数(WBC)": INFECTIONS,
    "中性粒细胞百分比(NEUT%)": INFECTIONS,
    "C反应蛋白(CRP)": INFECTIONS,
    "葡萄糖(GLU)": ("E11", "O24"),
    "肌酐(Cr)": ("E11.2", "I50"),
}
LOW_WHEN = {"血红蛋白(HGB)": ("O99", "D50", "D64", "C16", "C18"), "白细胞计数(WBC)": ("D61",)}

# main diagnosis → (type code, title, 检查部位, 检查所见, 诊断意见)
IMAGING = {
    "J18.900": (
        "C2301",
        "CT报告",
        "胸部CT平扫",
        "右肺下叶见斑片状高密度影，边缘模糊，其内可见支气管充气征，纵隔未见肿大淋巴结。",
        "右肺下叶炎症，考虑肺炎。",
    ),
    "A15.000": (
        "C2301",
        "CT报告",
        "胸部CT平扫",
        "右肺上叶尖后段见斑片、结节及条索影，部分钙化，其内见小空洞，周围见卫星灶。",
        "右肺上叶继发性肺结核，活动期可能。",
    ),
    "C34.900": (
        "C2301",
        "CT报告",
        "胸部增强CT",
        "左肺上叶见分叶状软组织肿块，约3.5cm×3.0cm，边缘毛刺，强化不均。",
        "左肺上叶占位，考虑周围型肺癌。",
    ),
    "J18.000": ("C2303", "X线报告", "胸部正位片", "双肺纹理增粗、模糊，双下肺内带见小斑片状模糊影。", "支气管肺炎。"),
    "S72.000": (
        "C2303",
        "X线报告",
        "骨盆正位及右髋关节侧位片",
        "右股骨颈骨皮质连续性中断，断端错位，股骨头未见明显坏死。",
        "右股骨颈骨折（GardenⅢ型）。",
    ),
    "S72.300": (
        "C2303",
        "X线报告",
        "右股骨正侧位片",
        "右股骨干中段见横行骨折线，断端向外侧成角移位。",
        "右股骨干骨折。",
    ),
    "S82.200": (
        "C2303",
        "X线报告",
        "左胫腓骨正侧位片",
        "左胫骨干中下段斜行骨折，断端轻度移位，腓骨未见骨折。",
        "左胫骨干骨折。",
    ),
    "S52.500": (
        "C2303",
        "X线报告",
        "右腕关节正侧位片",
        "右桡骨远端骨质断裂，远折端向背侧移位。",
        "右桡骨远端骨折（Colles骨折）。",
    ),
    "M17.900": (
        "C2303",
        "X线报告",
        "双膝关节正侧位片",
        "双膝关节间隙变窄，内侧明显，关节边缘骨赘形成。",
        "双膝关节退行性骨关节炎。",
    ),
    "O82.000": (
        "C2203",
        "超声报告",
        "产科超声",
        "宫内单活胎，头位，双顶径9.3cm，股骨长7.1cm，羊水指数12cm，胎盘Ⅱ级。",
        "宫内妊娠，单活胎，头位。",
    ),
    "O80.000": (
        "C2203",
        "超声报告",
        "产科超声",
        "宫内单活胎，头位，双顶径9.2cm，羊水指数11cm，胎心率142次/分。",
        "宫内妊娠，单活胎，头位。",
    ),
    "D25.900": (
        "C2203",
        "超声报告",
        "经阴道妇科超声",
        "子宫前壁肌层见低回声结节，约4.2cm×3.8cm，边界清。",
        "子宫肌瘤。",
    ),
    "N83.200": (
        "C2203",
        "超声报告",
        "经阴道妇科超声",
        "左附件区见无回声区，约5.1cm×4.3cm，壁薄光滑。",
        "左侧卵巢囊肿。",
    ),
    "K35.800": ("C2203", "超声报告", "阑尾超声", "右下腹见增粗阑尾，直径约0.9cm，周围少量积液。", "急性阑尾炎声像。"),
    "K80.100": (
        "C2203",
        "超声报告",
        "肝胆超声",
        "胆囊壁增厚毛糙，腔内见多个强回声伴声影，随体位移动。",
        "胆囊结石伴慢性胆囊炎。",
    ),
    "I63.900": (
        "C2302",
        "MRI报告",
        "头颅MRI平扫+DWI",
        "右侧基底节区见片状DWI高信号，ADC值减低。",
        "右侧基底节区急性脑梗死。",
    ),
    "I25.103": ("C2203", "超声报告", "心脏彩超", "左室前壁运动减弱，左室射血分数55%。", "节段性室壁运动异常。"),
    "I50.900": (
        "C2203",
        "超声报告",
        "心脏彩超",
        "左心扩大，左室壁运动普遍减弱，射血分数35%。",
        "左心扩大，左室收缩功能减低。",
    ),
}
NORMAL_CHEST = (
    "C2301",
    "CT报告",
    "胸部CT平扫",
    "双肺纹理清晰，双肺野未见实质性病变，纵隔居中。",
    "双肺未见明显异常，未见肺炎征象。",
)

# operation → (标本, 大体所见, 镜下所见, 病理诊断)
PATHOLOGY = {
    "47.0901": (
        "阑尾",
        "阑尾一条，长6cm，浆膜面充血，附脓苔。",
        "阑尾壁全层见大量中性粒细胞浸润。",
        "急性化脓性阑尾炎。",
    ),
    "51.2301": (
        "胆囊",
        "胆囊一个，壁厚0.4cm，腔内见结石数枚。",
        "黏膜慢性炎细胞浸润，罗-阿窦形成。",
        "慢性胆囊炎伴胆囊结石。",
    ),
    "68.2901": (
        "子宫肌瘤",
        "结节一枚，直径4cm，切面灰白编织状。",
        "梭形平滑肌细胞束状交错排列，无异型。",
        "子宫平滑肌瘤。",
    ),
    "65.2501": ("卵巢囊肿壁", "囊壁组织一块，内壁光滑。", "囊壁被覆单层立方上皮。", "（左）卵巢单纯性囊肿。"),
    "81.5101": (
        "股骨头",
        "股骨头一枚，颈部见骨折断面。",
        "骨小梁断裂，断端见出血及骨痂形成。",
        "（右）股骨颈骨折，骨质疏松改变。",
    ),
}


def lab_pages(rng: random.Random, r: DemoRecord) -> list[list]:
    """血常规 and 生化 as the LIS prints them: 项目, 结果, 提示 (↑↓), 单位, 参考范围."""
    taken = r.admitted_at + timedelta(hours=3)
    pages = []
    for title, items in (("血常规", BLOOD_COUNT), ("生化", CHEMISTRY)):
        rows: list = [("项目", "结果", "提示", "单位", "参考范围")]
        for name, unit, low, high in items:
            value = _value(rng, r.diagnoses, name, low, high)
            flag = "↑" if value > high else ("↓" if value < low else "")
            rows.append((name, f"{value:g}", flag, unit, f"{low}-{high}"))
        pages.append(
            [
                f"{title}检验报告单",
                f"姓名：{r.name}  性别：{r.sex_name}  年龄：{r.age}岁  病案号：{r.record_number}",
                f"科室：{r.dept.name}  标本：静脉血  采样时间：{(taken + timedelta(hours=8)):%Y-%m-%d %H:%M}",
                *rows,
                f"检验者：{rng.choice(LAB_STAFF)}  审核者：{LAB_STAFF[0]}",
            ]
        )
    if r.main_code == "A15.000":
        pages.append(
            [
                "痰涂片检验报告单",
                f"姓名：{r.name}  病案号：{r.record_number}",
                ("项目", "结果", "参考"),
                ("抗酸杆菌涂片", "阳性(2+)", "阴性"),
                ("结核分枝杆菌核酸(Xpert)", "检出", "未检出"),
            ]
        )
    return pages


def _value(rng: random.Random, diagnoses: list, name: str, low: float, high: float) -> float:
    codes = [code for code, _ in diagnoses]
    if any(code.startswith(HIGH_WHEN.get(name, ("-",))) for code in codes):
        return round(min(high * rng.uniform(1.15, 1.8), 94 if "%" in name else 1e9), 1)
    if any(code.startswith(LOW_WHEN.get(name, ("-",))) for code in codes):
        return round(low * rng.uniform(0.6, 0.85), 1)
    return round(rng.uniform(low + (high - low) * 0.1, high - (high - low) * 0.1), 1)


def imaging(r: DemoRecord) -> tuple[str, str, list[list]]:
    code, title, part, seen, opinion = IMAGING.get(r.main_code, NORMAL_CHEST)
    return (
        code,
        title,
        [
            [
                f"{title.removesuffix('报告')}检查报告",
                f"姓名：{r.name}  性别：{r.sex_name}  年龄：{r.age}岁  科室：{r.dept.name}",
                f"检查部位：{part}",
                f"检查所见：{seen}",
                f"诊断意见：{opinion}",
            ]
        ],
    )


def imaging_opinion(r: DemoRecord) -> str:
    _, _, part, _, opinion = IMAGING.get(r.main_code, NORMAL_CHEST)
    return f"{part}：{opinion}"


def pathology(r: DemoRecord) -> list[list]:
    if not r.operations or r.operations[0][0] not in PATHOLOGY:
        return []
    specimen, gross, micro, conclusion = PATHOLOGY[r.operations[0][0]]
    return [
        [
            "病理检查报告",
            f"姓名：{r.name}  性别：{r.sex_name}  年龄：{r.age}岁  病案号：{r.record_number}",
            f"病理号：P{r.admitted_at:%y}{int(r.record_number) % 100000:05d}  送检标本：{specimen}",
            f"大体所见：{gross}",
            f"镜下所见：{micro}",
            f"病理诊断：{conclusion}",
            f"报告医师：{PATHOLOGISTS[len(r.name) % len(PATHOLOGISTS)]}",
        ]
    ]
