"""A deterministic generator of Chinese medical pages and a brute-force reference matcher.

Used by the search tests and by bench/search.py to prove precision and recall 1.0: the
reference evaluates the same query AST over plain Python token lists (Python ``re`` with the
pattern rendered from the same definition, no tantivy), page by page.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from bingan import clock
from bingan.search import query as q
from bingan.search.analysis import TOKEN_RE, fold, is_identifier, keyword, normalize
from bingan.search.negation import negated_spans
from bingan.search.port import PageDoc, Scope
from bingan.search.synonyms import EXPANDED_FIELDS, Dictionary, words
from bingan.search.units import hit_pages, is_document_term

DIAGNOSES = [
    ("I25.103", "冠状动脉粥样硬化性心脏病"), ("J18.9", "肺炎"), ("J18.0", "支气管肺炎"),
    ("E11.900", "2型糖尿病"), ("E11.201", "糖尿病肾病"), ("I10.x00", "高血压病3级"),
    ("I63.900", "脑梗死"), ("N18.500", "慢性肾脏病5期"), ("K35.800", "急性阑尾炎"),
    ("C34.900", "肺恶性肿瘤"), ("J44.100", "慢性阻塞性肺疾病急性加重"), ("I48.x00", "心房颤动"),
    ("K80.100", "胆囊结石伴慢性胆囊炎"), ("S72.000", "股骨颈骨折"), ("O80.000", "单胎顺产"),
    ("I50.900", "心力衰竭"), ("A41.900", "脓毒症"), ("K92.208", "上消化道出血"),
]
OPERATIONS = [
    ("36.0601", "经皮冠状动脉药物洗脱支架置入术"), ("47.0101", "腹腔镜下阑尾切除术"),
    ("51.2301", "腹腔镜下胆囊切除术"), ("81.5101", "全髋关节置换术"),
    ("39.9501", "血液透析"), ("32.4101", "胸腔镜下肺叶切除术"), ("74.1x01", "子宫下段剖宫产术"),
]
SYMPTOMS = ["胸痛", "胸闷", "气促", "咳嗽", "咳痰", "发热", "头晕", "乏力", "腹痛", "恶心",
            "呕吐", "水肿", "心悸", "多饮多尿", "黑便", "意识障碍", "呼吸困难"]
DRUGS = ["阿司匹林", "氯吡格雷", "阿托伐他汀", "二甲双胍", "胰岛素", "头孢曲松", "莫西沙星",
         "呋塞米", "美托洛尔", "硝酸甘油", "低分子肝素", "奥美拉唑", "β受体阻滞剂"]
EXAMS = ["胸部X线", "胸部CT", "头颅CT", "心电图", "冠脉造影", "PCT", "CRP", "血常规",
         "HbA1c", "BNP", "肌钙蛋白I", "腹部B超", "心脏彩超", "MRI"]
PHRASES = ["低盐低脂饮食", "行PCI术", "病情稳定", "予抗感染治疗", "予对症支持治疗",
           "建议门诊随访", "病3级", "双肺呼吸音粗", "未闻及干湿啰音", "心律齐", "神志清楚",
           "精神可", "二便正常", "肾病", "糖尿病", "心脏病", "冠状动脉", "粥样硬化"]
DEPARTMENTS = [("XNK", "心血管内科"), ("HXK", "呼吸与危重症医学科"), ("NFM", "内分泌科"),
               ("SJK", "神经内科"), ("PWK", "普通外科"), ("GK", "骨科"), ("CK", "产科"),
               ("SNK", "肾内科")]
CAMPUSES = ["BB", "DY"]
CATEGORIES = [("BA", "病案首页"), ("RY", "入院记录"), ("BC", "病程记录"), ("SS", "手术记录"),
              ("JY", "检验报告"), ("JC", "检查报告"), ("CY", "出院记录"), ("HL", "护理记录")]
TAGS = ["传染病", "VIP", "纠纷", "科研", "精神"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
PUNCT = ["，", "。", "；", "、", "：", ",", ".", "\n"]


def _sentence(rng: random.Random, diag: tuple[str, str], op: tuple[str, str] | None) -> str:
    kind = rng.randrange(8)
    if kind == 0:
        return f"患者因{rng.choice(SYMPTOMS)}{rng.randint(1, 30)}天入院"
    if kind == 1:
        return f"诊断：{diag[1]}（{diag[0]}）"
    if kind == 2 and op:
        return f"于{rng.randint(1, 28)}日行{op[1]}，手术编码{op[0]}"
    if kind == 3:
        return f"予{rng.choice(DRUGS)}{rng.choice(['0.1g', '10mg', '500mg'])}口服"
    if kind == 4:
        return f"{rng.choice(EXAMS)}示{rng.choice(['未见明显异常', '双肺炎症', '较前好转'])}"
    return rng.choice(PHRASES + SYMPTOMS + [diag[1], rng.choice(DIAGNOSES)[1]])


def page_text(rng: random.Random, record_number: str, diag, op, *, ocr: bool = False) -> str:
    parts = [f"病案号：{record_number}"]
    for _ in range(rng.randint(6, 22)):
        parts.append(_sentence(rng, diag, op))
        parts.append(rng.choice(PUNCT))
    text = "".join(parts)
    if ocr:  # OCR text layers put spaces between Chinese characters
        text = " ".join(text)
    return text


@dataclass(slots=True)
class _Record:
    record_id: int
    number: str
    aliases: list[str]
    stay: int
    name: str
    id_number: str
    dept: tuple[str, str]
    campus: str
    admitted: date
    discharged: date
    kind: str
    confidentiality: int
    tags: list[str]
    diags: list[tuple[str, str]]
    ops: list[tuple[str, str]]
    sealed: bool


def _record(rng: random.Random, record_id: int) -> _Record:
    admitted = date(2019, 1, 1) + timedelta(days=rng.randrange(6 * 365))
    number = f"{rng.randrange(10**7):07d}"
    return _Record(
        record_id=record_id,
        number=number,
        aliases=[f"Z{number[-5:]}"] if rng.random() < 0.1 else [],
        stay=rng.randint(1, 4),
        name=rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2))),
        id_number=f"{rng.randrange(10**16):016d}{rng.randint(10, 99)}"[:17] + rng.choice("0123456789X"),
        dept=rng.choice(DEPARTMENTS),
        campus=rng.choice(CAMPUSES),
        admitted=admitted,
        discharged=admitted + timedelta(days=rng.randint(1, 30)),
        kind=rng.choices(["normal", "death", "special"], [0.9, 0.05, 0.05])[0],
        confidentiality=rng.choices([0, 1, 2, 3], [0.7, 0.2, 0.07, 0.03])[0],
        tags=rng.sample(TAGS, k=1) if rng.random() < 0.1 else [],
        diags=rng.sample(DIAGNOSES, k=rng.randint(1, 3)),
        ops=rng.sample(OPERATIONS, k=1) if rng.random() < 0.4 else [],
        sealed=rng.random() < 0.03,
    )


def generate_pages(n: int, seed: int = 7, pages_per_record: int = 10) -> Iterator[PageDoc]:
    """``n`` pages of realistic text, deterministic for a seed, streamed (bounded memory)."""
    rng = random.Random(seed)
    produced, record_id = 0, 0
    while produced < n:
        record_id += 1
        rec = _record(rng, record_id)
        pages = min(n - produced, rng.randint(1, 2 * pages_per_record - 1))
        for i in range(pages):
            yield _page(rng, rec, i, produced + i)
        produced += pages


def _page(rng: random.Random, rec: _Record, i: int, serial: int) -> PageDoc:
    cat = CATEGORIES[i // 2 % len(CATEGORIES)]  # a document (two pages) has one category
    op = rec.ops[0] if rec.ops else None
    return PageDoc(
        record_id=rec.record_id, record_number=rec.number, aliases=rec.aliases, stay=rec.stay,
        patient_name=rec.name, id_number=rec.id_number,
        document_id=rec.record_id * 100 + i // 2, version_id=serial + 1, page=1 + i % 2,
        category=cat[0], category_name=cat[1], document_type=cat[0] + "01",
        document_type_name=cat[1], department=rec.dept[0], department_name=rec.dept[1],
        campus=rec.campus, admitted_at=rec.admitted, discharged_at=rec.discharged,
        record_kind=rec.kind, confidentiality=rec.confidentiality, tags=rec.tags,
        diagnosis_codes=[d[0] for d in rec.diags], diagnosis_names=[d[1] for d in rec.diags],
        operation_codes=[o[0] for o in rec.ops], operation_names=[o[1] for o in rec.ops],
        sealed=rec.sealed,
        text=page_text(rng, rec.number, rec.diags[0], op, ocr=rng.random() < 0.05),
    )


# ---------------------------------------------------------------- reference matcher

SEP = "\x1f"
RUN_BREAK = "\x1e"


def token_string(text: str) -> str:
    """Tokens joined by a separator, so contiguous token runs are plain substrings. A soft
    wrap (U+2028) is whitespace for ``TOKEN_RE`` as for tantivy: no token, words join across it."""
    toks = TOKEN_RE.findall(fold(normalize(text)).lower())
    return SEP + SEP.join(toks) + SEP


def affirmed_token_string(text: str) -> str:
    """``token_string`` of the runs of tokens no negated span touches, each run closed by a
    mark no token holds: a phrase is found only where it stands wholly outside every negation."""
    folded = fold(normalize(text))
    spans = negated_spans(folded)
    runs: list[list[str]] = [[]]
    for m in TOKEN_RE.finditer(folded):
        if any(start < m.end() and m.start() < end for start, end in spans):
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(m[0].lower())
    return "".join(SEP + SEP.join(run) + SEP + RUN_BREAK for run in runs)


def _contains(haystack: str, tokens: tuple[str, ...]) -> bool:
    return (SEP + SEP.join(tokens) + SEP) in haystack


def _values(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


class Reference:
    """Brute force over every page: the specification the index must reproduce exactly."""

    def __init__(self, docs: list[PageDoc], *, affirmed: bool = False, synonyms: Dictionary | None = None) -> None:
        """``affirmed``, ``synonyms``: the switches 排除否定描述 and 同义词扩展, evaluated here by
        their definitions (token positions against ``negated_spans``, a term against every
        spelling of its group) rather than by the field and the query rewriting the index uses."""
        self.docs = docs
        self.text = [token_string(d.text) for d in docs]
        self.affirmed = [affirmed_token_string(d.text) for d in docs] if affirmed else None
        self.synonyms = synonyms
        self.names = {
            # values of a multi-valued field never join into one phrase: a line break between
            f: [token_string("\n".join(_values(getattr(d, f)))) for d in docs]
            for f in ("patient_name", "department_name", "category_name", "document_type_name",
                      "diagnosis_names", "operation_names")
        }

    def search(self, query: str, scope: Scope) -> set[str]:
        """The hit pages (doc ids): at the page unit the matching pages; at the record or
        document unit the pages of the matching units that match ``units.hit_pages``."""
        parsed = q.parse(query)
        visible = [i for i, d in enumerate(self.docs) if scope.admits(d)]
        if parsed.unit == "page":
            return {self.docs[i].doc_id for i in visible if self._eval(parsed.root, i)}
        shown = hit_pages(parsed.root)
        return {
            self.docs[i].doc_id
            for pages in self._group(visible, parsed.unit).values()
            if self._holds(parsed.root, pages, parsed.unit)
            for i in pages
            if self._eval(shown, i)
        }

    def _group(self, pages: list[int], unit: q.Unit) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = {}
        for i in pages:
            d = self.docs[i]
            groups.setdefault(d.record_id if unit == "record" else d.document_id, []).append(i)
        return groups

    def _holds(self, node: q.Node, pages: list[int], unit: q.Unit) -> bool:
        """The definition, unit by unit: a term holds when one of the unit's pages has it."""
        if isinstance(node, q.Not):
            return not self._holds(node.child, pages, unit)
        if isinstance(node, q.Or):
            return any(self._holds(c, pages, unit) for c in node.children)
        if isinstance(node, q.And):
            if unit == "record" and any(is_document_term(c) for c in node.children):
                documents = self._group(pages, "document").values()
                return any(self._holds(node, doc_pages, "document") for doc_pages in documents)
            return all(self._holds(c, pages, unit) for c in node.children)
        return any(self._eval(node, i) for i in pages)

    def _eval(self, node: q.Node, i: int) -> bool:
        if isinstance(node, q.MatchAll):
            return True
        if isinstance(node, q.Not):
            return not self._eval(node.child, i)
        if isinstance(node, q.And):
            return all(self._eval(c, i) for c in node.children)
        if isinstance(node, q.Or):
            return any(self._eval(c, i) for c in node.children)
        if isinstance(node, q.Range):
            return self._range(node, self.docs[i])
        if isinstance(node, q.Prefix):
            return any(keyword(v).startswith(node.prefix) for v in self._codes(node.field, self.docs[i]))
        return self._term(node, i)

    @staticmethod
    def _codes(field: str, d: PageDoc) -> list[str]:
        return {
            "record": [d.record_number, *d.aliases], "id": [d.id_number],
            "diagnosis": d.diagnosis_codes, "operation": d.operation_codes,
        }[field]

    def _term(self, t: q.Term, i: int) -> bool:
        if self.synonyms is None or t.field not in EXPANDED_FIELDS:
            return self._spelling(t, i)
        spellings = [t, *(replace(t, text=o, tokens=words(o)) for o in self.synonyms.spellings(t.tokens))]
        return any(self._spelling(s, i) for s in spellings)

    def _spelling(self, t: q.Term, i: int) -> bool:
        d, kw = self.docs[i], keyword(t.text)
        raw = normalize(t.text).strip()
        field_checks = {
            "record": lambda: kw in {keyword(x) for x in [d.record_number, *d.aliases]},
            "id": lambda: kw == keyword(d.id_number),
            "name": lambda: _contains(self.names["patient_name"][i], t.tokens),
            "tag": lambda: raw in d.tags,
            "kind": lambda: d.record_kind == t.text,
            "diagnosis": lambda: kw in {keyword(c) for c in d.diagnosis_codes}
            or _contains(self.names["diagnosis_names"][i], t.tokens),
            "operation": lambda: kw in {keyword(c) for c in d.operation_codes}
            or _contains(self.names["operation_names"][i], t.tokens),
            "dept": lambda: raw == d.department
            or _contains(self.names["department_name"][i], t.tokens),
            "category": lambda: raw == d.category
            or _contains(self.names["category_name"][i], t.tokens),
            "type": lambda: raw == d.document_type
            or _contains(self.names["document_type_name"][i], t.tokens),
        }
        if t.field is not None:
            return field_checks[t.field]()
        if _contains(self.text[i] if self.affirmed is None else self.affirmed[i], t.tokens):
            return True
        return is_identifier(list(t.tokens)) and (
            field_checks["record"]() or field_checks["id"]()
        )

    @staticmethod
    def _range(r: q.Range, d: PageDoc) -> bool:
        value = {
            "discharged": d.discharged_at, "admitted": d.admitted_at,
            "stay": d.stay, "year": d.discharge_year,
        }[r.field]
        if value is None:
            return False
        if isinstance(value, date | datetime):
            value = clock.local_date(value)  # dates are the hospital's days, as the adapters read them
        return (r.lo is None or value >= r.lo) and (r.hi is None or value < r.hi)


def sample_queries(n: int, seed: int = 11) -> list[str]:
    """Queries of every shape the language offers, drawn from the generator's vocabulary."""
    rng = random.Random(seed)
    words = [d[1] for d in DIAGNOSES] + [o[1] for o in OPERATIONS] + SYMPTOMS + DRUGS
    words += EXAMS + PHRASES
    two = sorted({w[i : i + 2] for w in words for i in range(len(w) - 1) if _is_han_pair(w[i : i + 2])})
    shapes = [
        lambda: rng.choice(two),
        lambda: rng.choice(words),
        lambda: f'"{rng.choice(words)}"',
        lambda: f"{rng.choice(words)} {rng.choice(two)}",
        lambda: f"{rng.choice(words)} OR {rng.choice(words)}",
        lambda: f"{rng.choice(words)} -{rng.choice(two)}",
        lambda: f"NOT {rng.choice(two)}",
        lambda: f"({rng.choice(two)} OR {rng.choice(EXAMS)}) {rng.choice(SYMPTOMS)}",
        lambda: rng.choice(DIAGNOSES)[0],
        lambda: rng.choice(DIAGNOSES)[0].split(".")[0],
        lambda: rng.choice(["CT", "PCT", "PCI", "X线", "病3级", "行PCI术", "胸部X线", "HbA1c"]),
        lambda: rng.choice(["糖尿病肾病", "糖尿病，肾病", "心脏病冠状动脉", "肺炎予抗感染"]),
        lambda: f"诊断:{rng.choice(DIAGNOSES)[rng.randrange(2)]}",
        lambda: f"科室:{rng.choice(DEPARTMENTS)[rng.randrange(2)]} {rng.choice(two)}",
        lambda: f"{rng.choice(two)} 出院:{rng.randint(2019, 2024)}-{rng.randint(1, 12):02d}..",
        lambda: f"手术:{rng.choice(OPERATIONS)[1][:4]}",
        lambda: f"{rng.choice(SYMPTOMS)} 年份:{rng.randint(2019, 2025)}",
    ]
    return [shapes[i % len(shapes)]() for i in range(n)]


def unit_queries(n: int, seed: int = 17) -> list[str]:
    """Shapes whose meaning depends on the unit: document fields with words (``文书:``/``类别:``
    keep their own unit), negations alone or under OR, groups, codes with their subdivisions."""
    rng = random.Random(seed)
    words = SYMPTOMS + [d[1] for d in DIAGNOSES] + PHRASES
    shapes = [
        lambda: f"类别:{rng.choice(CATEGORIES)[1]} {rng.choice(words)}",
        lambda: f"(文书:{rng.choice(CATEGORIES)[0]}01 {rng.choice(words)}) {rng.choice(SYMPTOMS)}",
        lambda: f"类别:{rng.choice(CATEGORIES)[0]} -{rng.choice(words)}",
        lambda: f"NOT 类别:{rng.choice(CATEGORIES)[1]}",
        lambda: f"{rng.choice(words)} OR -{rng.choice(SYMPTOMS)}",
        lambda: f"-{rng.choice(words)} -{rng.choice(SYMPTOMS)}",
        lambda: f"{rng.choice(SYMPTOMS)} {rng.choice(SYMPTOMS)} -{rng.choice(words)}",
        lambda: f"诊断:{rng.choice(DIAGNOSES)[0][:3]} {rng.choice(SYMPTOMS)}",
        lambda: f'诊断:"{rng.choice(DIAGNOSES)[0]}" OR 手术:{rng.choice(OPERATIONS)[0][:2]}',
        lambda: f"科室:{rng.choice(DEPARTMENTS)[1]} -类别:{rng.choice(CATEGORIES)[0]}",
    ]
    return [shapes[i % len(shapes)]() for i in range(n)]


def _is_han_pair(text: str) -> bool:
    return len(text) == 2 and all("\u4e00" <= ch <= "\u9fff" for ch in text)


def prefix_queries(n: int, seed: int = 13) -> list[str]:
    """Code and number prefixes (诊断:J18*, 手术:36.06*, 病案号:00*, 身份证:11*), alone and
    combined with words, drawn from the generator's codes. Kept apart from ``sample_queries`` so
    that set, and the benchmark figures measured on it, stay comparable across versions."""
    rng = random.Random(seed)

    def cut(code: str) -> str:
        cased = code if rng.random() < 0.5 else code.lower()
        return cased[: rng.randint(1, len(code))] + "*"

    shapes = [
        lambda: f"诊断:{cut(rng.choice(DIAGNOSES)[0])}",
        lambda: f"手术:{cut(rng.choice(OPERATIONS)[0])}",
        lambda: f"病案号:{rng.randrange(10, 1000)}*",
        lambda: f"身份证:{rng.randrange(1, 100)}*",
        lambda: f"诊断:{cut(rng.choice(DIAGNOSES)[0])} {rng.choice(SYMPTOMS)}",
        lambda: f"诊断:{cut(rng.choice(DIAGNOSES)[0])} -诊断:{cut(rng.choice(DIAGNOSES)[0])}",
        lambda: f"诊断:{cut(rng.choice(DIAGNOSES)[0])} OR 手术:{cut(rng.choice(OPERATIONS)[0])}",
    ]
    return [shapes[i % len(shapes)]() for i in range(n)]


# Negated and affirmed mentions as records write them, for the switch 排除否定描述.
NEGATION_TEMPLATES = [
    "否认{d}病史", "无{s}", "未见{e}异常", "患者无明显诱因出现{s}", "否认{d}、{d2}病史", "无{s}但有{s2}",
    "{e}阴性", "双肺未闻及{s}", "不伴{s}、{s2}", "{e}未见{d}征象", "排除{d}", "{s}不明显", "予{drug}后{s}好转",
]


def negated_pages(n: int, seed: int = 19) -> Iterator[PageDoc]:
    """``generate_pages`` with negated and affirmed clauses before and after each page's text."""
    rng = random.Random(seed)

    def clause() -> str:
        return rng.choice(NEGATION_TEMPLATES).format(
            d=rng.choice(DIAGNOSES)[1], d2=rng.choice(DIAGNOSES)[1], s=rng.choice(SYMPTOMS),
            s2=rng.choice(SYMPTOMS), e=rng.choice(EXAMS), drug=rng.choice(DRUGS))

    for doc in generate_pages(n, seed=seed):
        before = "".join(clause() + rng.choice(PUNCT) for _ in range(rng.randint(0, 3)))
        after = "".join(rng.choice(PUNCT) + clause() for _ in range(rng.randint(0, 3)))
        yield replace(doc, text=before + doc.text + after)


def negation_queries(n: int, seed: int = 23) -> list[str]:
    """Words that stand negated and affirmed in ``negated_pages``, alone and combined, at every
    unit, and spellings of the default synonym groups (心衰 for 心力衰竭, 房颤, COPD, PCI…)."""
    rng = random.Random(seed)
    words = SYMPTOMS + [d[1] for d in DIAGNOSES] + EXAMS
    synonyms = ["心衰", "房颤", "冠心病", "慢阻肺", "COPD", "DM", "T2DM", "经皮冠状动脉介入治疗", "ECG",
                "心脏彩超", "核磁共振", "降钙素原", "脑梗", "急性心梗", "上消化道出血", "高血压病"]
    shapes = [
        lambda: rng.choice(words),
        lambda: f"{rng.choice(SYMPTOMS)} {rng.choice(words)}",
        lambda: f"{rng.choice(words)} -{rng.choice(words)}",
        lambda: f"{rng.choice(SYMPTOMS)} OR {rng.choice(DIAGNOSES)[1]}",
        lambda: f"单位:页 {rng.choice(words)} {rng.choice(SYMPTOMS)}",
        lambda: f"单位:文书 {rng.choice(words)} -{rng.choice(SYMPTOMS)}",
        lambda: f"患者{rng.choice(SYMPTOMS)}",
        lambda: rng.choice(synonyms),
        lambda: f"{rng.choice(synonyms)} -{rng.choice(synonyms)}",
        lambda: f"诊断:{rng.choice(synonyms)} {rng.choice(SYMPTOMS)}",
        lambda: f"{rng.choice(synonyms)} OR {rng.choice(words)}",
    ]
    return [shapes[i % len(shapes)]() for i in range(n)]
