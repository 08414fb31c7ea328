"""Chinese search correctness: what a clinician types must find exactly the right pages."""
from __future__ import annotations

from datetime import date

import pytest

from bingan.search.port import PageDoc, Scope, SearchIndex
from bingan.search.query import QueryError

PAGES = {
    "0000001": "主诉：胸痛3天。诊断：冠状动脉粥样硬化性心脏病（I25.103），于3月5日行PCI术。",
    "0000002": "既往2型糖尿病10年，糖尿病肾病Ⅳ期（E11.201），予胰岛素降糖。",
    "0000003": "既往糖尿病，肾病综合征病史2年。PCT 0.5ng/ml，CRP升高。",
    "0000004": "社区获得性肺炎（J18.9），胸部X线示右下肺斑片影。头颅CT未见异常。",
    "0000005": "高血压病3级（极高危），低盐低脂饮食。",
    "0000006": "查 体 ： 双 肺 呼 吸 音 粗 ， 诊 断 肺 炎 ， 予 抗 感 染 治 疗",
    "0000007": "诊断：J18 肺炎，未特指。心电图示窦性心律。",
    "0000008": "冠状动脉\n粥样硬化改变。患者心脏病史不详。",
    "0000009": "ＣＴ示肺部感染，予莫西沙星０．４ｇ静滴。身份证11010519491231002X。",
    "0000010": "出院医嘱：阿司匹林100mg qd，阿托伐他汀20mg qn，β受体阻滞剂。",
}


def page(number: str, text: str, **extra) -> PageDoc:
    rid = int(number)
    base = dict(
        record_id=rid, record_number=number, stay=1, document_id=rid * 10,
        version_id=rid * 100, page=1, text=text, patient_name=f"患者{rid}",
        department="XNK", department_name="心血管内科", category="BC", category_name="病程记录",
        discharged_at=date(2024, 1, 1 + rid % 28), year=2024,
    )
    base.update(extra)
    return PageDoc(**base)


@pytest.fixture
def index(make_index) -> SearchIndex:
    return make_index(page(n, t) for n, t in PAGES.items())


def numbers(index: SearchIndex, query: str, scope: Scope | None = None) -> set[str]:
    result = index.search(query, scope or Scope.everything(), limit=100)
    return {r.record_number for r in result.records}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("肺炎", {"0000004", "0000006", "0000007"}),  # 2 characters, OCR-spaced page included
        ("糖尿病", {"0000002", "0000003"}),  # 3 characters
        ("2型糖尿病", {"0000002"}),  # digit + Han
        ('"冠状动脉粥样硬化性心脏病"', {"0000001"}),  # long phrase
        ("冠状动脉粥样硬化性心脏病", {"0000001"}),  # long word, no quotes
        ("心脏病", {"0000001", "0000008"}),
        ("病3级", {"0000005"}),  # single Han next to digits
        ("行PCI术", {"0000001"}),
        ("胸部X线", {"0000004"}),
        ("低盐低脂", {"0000005"}),
        ("β受体阻滞剂", {"0000010"}),
        ("呼吸音粗", {"0000006"}),  # "呼 吸 音 粗" with OCR spaces
    ],
)
def test_chinese_terms_find_exactly_their_pages(index, query, expected):
    assert numbers(index, query) == expected


def test_phrases_never_run_across_punctuation_or_line_breaks(index):
    # 0000003 has "糖尿病，肾病"; 0000008 has "冠状动脉\n粥样硬化"
    assert numbers(index, "糖尿病肾病") == {"0000002"}
    assert numbers(index, '"糖尿病，肾病"') == {"0000003"}
    assert numbers(index, '"糖尿病,肾病"') == {"0000003"}  # half-width comma = full-width
    assert numbers(index, "冠状动脉粥样硬化") == {"0000001"}


def test_phrases_never_run_across_a_field_gap(make_index):
    """Page text separates fields and table cells by two spaces (formats/): 张三  性别 is no 三性."""
    index = make_index([page("0000021", "姓名：张三  性别：男  年龄：68岁"),
                        page("0000022", "项目\t结果\n血红蛋白\t135"),
                        page("0000023", "患者张三性别不详"),
                        page("0000024", "呼 吸 音 粗")])
    assert numbers(index, "三性") == {"0000023"}
    assert numbers(index, "蛋白135") == set() and numbers(index, "血红蛋白 135") == {"0000022"}
    assert numbers(index, "张三") == {"0000021", "0000023"}
    assert numbers(index, "呼吸音粗") == {"0000024"}  # single OCR spaces still vanish


def test_latin_words_and_codes_are_exact_tokens(index):
    assert numbers(index, "CT") == {"0000004", "0000009"}  # 头颅CT, full-width ＣＴ
    assert numbers(index, "PCT") == {"0000003"}
    assert numbers(index, "pci") == {"0000001"}
    assert numbers(index, "J18.9") == {"0000004"}
    assert numbers(index, "J18") == {"0000007"}  # J18 is not J18.9
    assert numbers(index, "I25.103") == {"0000001"}
    assert numbers(index, "0.4g") == {"0000009"}  # ０．４ｇ folded to one token
    assert numbers(index, "0.4") == set()  # never part of a token
    assert numbers(index, "100mg") == {"0000010"}


def test_boolean_operators(index):
    assert numbers(index, "糖尿病 NOT 肾病") == set()  # both pages mention 肾病
    assert numbers(index, "糖尿病 -胰岛素") == {"0000003"}
    assert numbers(index, "NOT 糖尿病") == set(PAGES) - {"0000002", "0000003"}
    assert numbers(index, "-肺炎 -糖尿病") == set(PAGES) - {
        "0000002", "0000003", "0000004", "0000006", "0000007"
    }
    assert numbers(index, "肺炎 OR 糖尿病") == {"0000002", "0000003", "0000004", "0000006", "0000007"}
    assert numbers(index, "(肺炎 OR 心脏病) 胸痛") == {"0000001"}
    assert numbers(index, "肺炎 CT") == {"0000004"}
    assert numbers(index, "肺炎 AND CT") == {"0000004"}


def test_record_numbers_aliases_and_id_numbers(make_index):
    index = make_index([
        page("0012345", "入院记录", aliases=["Z12345", "B-2019-77"], id_number="11010519491231002X"),
        page("0012346", "入院记录，提及病案0012345"),
        page("0112345", "出院记录"),
    ])
    assert numbers(index, "病案号:0012345") == {"0012345"}
    assert numbers(index, "record:z12345") == {"0012345"}
    assert numbers(index, "病案号:B-2019-77") == {"0012345"}
    assert numbers(index, "0012345") == {"0012345", "0012346"}  # number field or page text
    assert numbers(index, "Z12345") == {"0012345"}  # plain alias word finds the record
    assert numbers(index, "12345") == set()  # never a partial number
    assert numbers(index, "身份证:11010519491231002x") == {"0012345"}
    assert numbers(index, "11010519491231002X") == {"0012345"}


def test_field_queries(make_index):
    index = make_index([
        page("0000001", "第一页", patient_name="张三丰", department="XNK", department_name="心血管内科",
             diagnosis_codes=["I25.103"], diagnosis_names=["冠状动脉粥样硬化性心脏病"],
             operation_codes=["36.0601"], operation_names=["经皮冠状动脉药物洗脱支架置入术"],
             category="SS", category_name="手术记录", document_type="SS01", document_type_name="手术记录",
             tags=["科研"], stay=2, record_kind="death"),
        page("0000002", "第二页", patient_name="李四", department="HXK", department_name="呼吸与危重症医学科",
             diagnosis_codes=["J18.9", "E11.900"], diagnosis_names=["肺炎", "2型糖尿病"],
             discharged_at=date(2023, 5, 20), admitted_at=date(2023, 5, 2), year=2023),
    ])
    assert numbers(index, "姓名:张三丰") == {"0000001"}
    assert numbers(index, "name:三丰") == {"0000001"}
    assert numbers(index, "科室:心血管内科") == {"0000001"}
    assert numbers(index, "dept:HXK") == {"0000002"}
    assert numbers(index, "科室：呼吸") == {"0000002"}  # full-width colon
    assert numbers(index, "诊断:J18.9") == {"0000002"}
    assert numbers(index, "诊断:J18") == {"0000002"}  # a code covers its subdivisions
    assert numbers(index, '诊断:"J18"') == set()  # quoted: that code only
    assert numbers(index, "诊断:糖尿病") == {"0000002"}
    assert numbers(index, "diagnosis:心脏病") == {"0000001"}
    assert numbers(index, "诊断:肺炎2型") == set()  # two values never join into one phrase
    assert numbers(index, "手术:36.0601") == {"0000001"}
    assert numbers(index, "手术:支架置入") == {"0000001"}
    assert numbers(index, "类别:手术记录") == {"0000001"}
    assert numbers(index, "文书:SS01") == {"0000001"}
    assert numbers(index, "标签:科研") == {"0000001"}
    assert numbers(index, "住院次数:2") == {"0000001"}
    assert numbers(index, "stay:1..3") == {"0000001", "0000002"}
    assert numbers(index, "年份:2023") == {"0000002"}
    assert numbers(index, "病案类型:死亡") == {"0000001"}
    assert numbers(index, "出院:2023-05") == {"0000002"}
    assert numbers(index, "出院:2023-05-01..2023-05-19") == set()
    assert numbers(index, "出院:2023-05-01..2023-05-20") == {"0000002"}
    assert numbers(index, "入院:>=2023-05") == {"0000002"}
    assert numbers(index, "出院:<2024") == {"0000002"}
    assert numbers(index, "出院:>2023") == {"0000001"}
    assert numbers(index, "出院:2024-01-01..") == {"0000001"}


def test_unknown_field_is_searched_as_text_with_a_warning(make_index):
    index = make_index([page("0000001", "血压:120/80mmHg"), page("0000002", "血压正常")])
    result = index.search("血压:120/80mmHg", Scope.everything())
    assert {r.record_number for r in result.records} == {"0000001"}
    assert any("未知字段" in w for w in result.warnings)


@pytest.mark.parametrize(
    "query",
    ["", "   ", '"糖尿病', "(肺炎", "肺炎)", "()", "肺炎 OR", "OR 肺炎", "NOT", "肺炎 -",
     "科室:", "出院:2024-13", "出院:2024-02-30", "出院:昨天", "住院次数:两次", "年份:2024..2020",
     "病案类型:其他", "肺炎 AND", "(" * 40 + "肺炎" + ")" * 40, "肺" * 1001],
)
def test_malformed_queries_raise_query_error_in_chinese(index, query):
    with pytest.raises(QueryError) as caught:
        index.search(query, Scope.everything())
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(caught.value))


@pytest.mark.parametrize(("offset", "limit"), [(9_990, 20), (10**8, 20), (-1, 20), (0, -5)])
def test_paging_beyond_the_result_window_is_refused_in_chinese(index, offset, limit):
    """Every adapter collects offset + limit hits before skipping: page 10⁸ must not be attempted."""
    with pytest.raises(QueryError, match=r"分页|翻阅"):
        index.search("肺炎", Scope.everything(), offset=offset, limit=limit)


def test_the_last_page_inside_the_window_is_served(index):
    assert index.search("肺炎", Scope.everything(), offset=9_980, limit=20).records == []


def test_snippets_mark_the_match_and_escape_html(make_index):
    index = make_index([page("0000001", "诊断：<b>冠状动脉粥样硬化性心脏病</b>，行PCI术" + "。" * 200)])
    hit = index.search("心脏病 PCI", Scope.everything()).records[0].hits[0]
    assert "性<mark>心脏病</mark>&lt;/b&gt;，行<mark>PCI</mark>术" in hit.snippet
    assert "<b>" not in hit.snippet and "&lt;b&gt;" in hit.snippet
    assert hit.snippet.endswith("…") and len(hit.snippet) < 200
    ocr = make_index([page("0000002", "诊 断 ： 肺 炎")])
    assert "<mark>肺 炎</mark>" in ocr.search("肺炎", Scope.everything()).records[0].hits[0].snippet
