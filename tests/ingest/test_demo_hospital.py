"""The demo looks like a hospital: the same records for the same seed, patients who fit their
department, the national front page, admission notes with every section, result tables, named staff."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from bingan.ingest.demo import DEPARTMENTS, STAFF, generate
from bingan.storage.models.identity import check_char

HOSPITAL = list(generate(200))


def text_of(record, type_code: str | None = None) -> str:
    return "\n".join("|".join(line) if isinstance(line, tuple) else line
                     for doc in record.documents if type_code in (None, doc.type_code)
                     for page in doc.pages for line in page)


def test_the_same_seed_gives_the_same_hospital():
    again = list(generate(200))
    assert [(r.record_number, r.stay, r.name, r.id_number, r.diagnoses, [d.pages for d in r.documents])
            for r in again] == [(r.record_number, r.stay, r.name, r.id_number, r.diagnoses,
                                 [d.pages for d in r.documents]) for r in HOSPITAL]
    assert [r.name for r in generate(20, seed=7)] != [r.name for r in HOSPITAL[:20]]


def test_obstetric_patients_are_women_from_20_to_40():
    mothers = [r for r in HOSPITAL if r.dept.code == "FK01"]
    assert len(mothers) >= 10
    assert {r.sex for r in mothers} == {"F"} and all(20 <= r.age <= 41 for r in mothers)


def test_paediatric_patients_are_children_and_others_adults():
    children = [r for r in HOSPITAL if r.dept.code == "PK01"]
    assert len(children) >= 10 and all(1 <= r.age <= 15 for r in children)
    assert all(r.age >= 18 for r in HOSPITAL if r.dept.code != "PK01")
    assert "病史陈述者：患儿母亲" in text_of(children[0], "C0201")


def test_every_department_keeps_to_its_diagnoses_and_operations():
    by_code = {d.code: d for d in DEPARTMENTS}
    for r in HOSPITAL:
        dept = by_code[r.dept.code]
        assert r.diagnoses[0][0] in {d.code for d in dept.main}
        assert all(re.fullmatch(r"[A-Z]\d\d\.[0-9x]\d\d", code) for code, _ in r.diagnoses)  # ICD-10
        assert all(re.fullmatch(r"\d\d\.[0-9x]{2}\d\d", code) for code, _ in r.operations)  # ICD-9-CM-3
    assert not [r for r in HOSPITAL if r.sex == "M" and r.diagnoses[0][0].startswith(("O", "D25", "C50"))]


def test_id_numbers_carry_birth_date_sex_and_check_character():
    for r in HOSPITAL:
        assert r.id_number[6:14] == f"{r.birth:%Y%m%d}"
        assert int(r.id_number[16]) % 2 == (1 if r.sex == "M" else 0)
        assert r.id_number[17] == check_char(r.id_number[:17])


def test_front_page_has_the_national_diagnosis_and_operation_tables():
    operated = next(r for r in HOSPITAL if r.operations)
    rows = [line for doc in operated.documents if doc.type_code == "C0101" for page in doc.pages for line in page]
    tables = [row for row in rows if isinstance(row, tuple)]
    assert ("出院诊断", "疾病编码", "入院病情") in tables
    assert any(row[0] == "手术及操作编码" for row in tables)
    assert any(row[0] == operated.operations[0][0] and row[3] == operated.operations[0][1] for row in tables)
    assert any(cell == f"病案号：{operated.record_number}" for row in tables for cell in row)
    assert any(cell.startswith("科主任：") for row in tables for cell in row)


def test_admission_note_has_every_section_and_real_negations():
    note = text_of(HOSPITAL[0], "C0201").replace("\n", "")
    sections = ("主诉", "现病史", "既往史", "个人史", "婚育史", "家族史", "体格检查", "辅助检查", "初步诊断")
    assert all(f"{section}：" in note for section in sections)
    negated = sum("否认肝炎、结核" in text_of(r, "C0201").replace("\n", "") for r in HOSPITAL)
    treated = sum("有肺结核病史" in text_of(r, "C0201").replace("\n", "") for r in HOSPITAL)
    assert negated > 150 and 5 <= treated < 40


def test_lab_reports_are_result_tables_with_abnormal_flags():
    pneumonia = next(r for r in HOSPITAL if r.diagnoses[0][0] == "J18.900")
    lab = [line for doc in pneumonia.documents if doc.type_code == "C2201" for page in doc.pages for line in page]
    header = ("项目", "结果", "提示", "单位", "参考范围")
    assert lab.count(header) == 2  # 血常规 and 生化
    wbc = next(row for row in lab if isinstance(row, tuple) and row[0].startswith("白细胞计数"))
    assert wbc[2] == "↑" and float(wbc[1]) > 9.5 and wbc[4] == "3.5-9.5"


def test_imaging_and_pathology_reports_follow_the_diagnosis():
    hip = next(r for r in HOSPITAL if r.diagnoses[0][0] == "S72.000")
    xray = text_of(hip, "C2303")
    assert "检查所见：" in xray and "诊断意见：" in xray and "股骨颈骨折" in xray
    assert "病理诊断：" in text_of(hip, "C2101")
    caesarean = next(r for r in HOSPITAL if r.diagnoses[0][0] == "O82.000")
    assert "宫内妊娠" in text_of(caesarean, "C2203") and "子宫下段剖宫产术" in text_of(caesarean, "C1101")


def test_documents_carry_the_names_of_many_doctors_and_nurses():
    for r in HOSPITAL[:30]:
        staff = STAFF[r.dept.code]
        authors = {doc.type_code: doc.author for doc in r.documents}
        assert authors["C0201"] in staff.residents and authors["C2602"] in staff.nurses
        assert authors["C0201"] in text_of(r, "C0201")
    names = {doc.author for r in HOSPITAL for doc in r.documents if doc.author}
    assert len(names) >= 60


def test_some_documents_have_a_second_version():
    revised = [doc for r in HOSPITAL for doc in r.revisions]
    assert 10 <= len(revised) <= 50
    for r in HOSPITAL:
        for doc in r.revisions:
            first = next(d for d in r.documents if d.source_id == doc.source_id)
            assert doc.revision == 2 and doc.pages != first.pages and doc.type_code == first.type_code


@pytest.mark.parametrize(("words", "at_least"), [("肺炎", 40), ("肺结核", 8), ("骨折", 20), ("剖宫产", 15)])
def test_the_search_examples_have_plenty_to_find(words: str, at_least: int):
    assert sum(words in text_of(r).replace("\n", "") for r in HOSPITAL) >= at_least


def test_the_first_records_already_answer_every_search_example():
    first = generate(8)
    texts = {r.dept.code: "" for r in HOSPITAL}
    for r in first:
        texts[r.dept.code] += text_of(r).replace("\n", "")
    ward = texts["NK02"]  # what the demo clinician (呼吸内科) can read
    assert all(word in ward for word in ("肺炎", "肺结核", "否认肝炎、结核", "骨折", "剖宫产", "J18.900"))
    everywhere = "".join(texts.values())
    assert all(word in everywhere for word in ("股骨颈骨折", "子宫下段剖宫产术", "支气管肺炎"))


def test_departments_are_spread_like_a_general_hospital():
    counts = Counter(r.dept.code for r in HOSPITAL)
    assert set(counts) == {d.code for d in DEPARTMENTS}
    assert max(counts.values()) < 60
