"""XML (CDA shared documents, HIS exports) and HTML reports: detected by content, shown as their
readable text on A4 pages, hostile XML refused, broken markup shown as the text it is."""
from __future__ import annotations

import pytest

from bingan.formats.base import FormatError
from bingan.formats.detect import detect
from bingan.formats.document import open_document

pytestmark = pytest.mark.timeout(120)

# A WS/T 500 style 入院记录 shared document, trimmed to what a reader sees.
CDA = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="CN"/>
  <templateId root="2.16.156.10011.2.1.1.51"/>
  <id root="2.16.156.10011.1.1" extension="RN001"/>
  <title>入院记录</title>
  <effectiveTime value="20240315101500"/>
  <recordTarget><patientRole><id root="2.16.156.10011.1.12" extension="0012345"/>
    <patient><name>张三</name>
      <administrativeGenderCode code="1" codeSystem="2.16.156.10011.2.3.3.4" displayName="男性"/>
    </patient></patientRole></recordTarget>
  <component><structuredBody>
    <component><section>
      <code code="10154-3" codeSystem="2.16.840.1.113883.6.1" displayName="CHIEF COMPLAINT"/>
      <title>主诉</title>
      <text>反复咳嗽、咳痰3天，发热1天</text>
    </section></component>
    <component><section>
      <title>体格检查</title>
      <entry><observation classCode="OBS" moodCode="EVN">
        <code code="DE04.10.186.00" displayName="体温"/>
        <value xsi:type="PQ" value="38.6" unit="℃"/>
      </observation></entry>
      <entry><observation classCode="OBS" moodCode="EVN">
        <code code="DE05.01.024.00" displayName="入院诊断"/>
        <value xsi:type="CD" code="J18.900" displayName="社区获得性肺炎"/>
      </observation></entry>
    </section></component>
  </structuredBody></component>
</ClinicalDocument>
"""

HIS_EXPORT = """<?xml version="1.0" encoding="GBK"?>
<检验报告>
  <患者姓名>李四</患者姓名>
  <项目><名称>血红蛋白</名称><结果>135</结果><单位>g/L</单位></项目>
  <item code="WBC" value="6.5"/>
</检验报告>
"""

HTML_REPORT = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>血常规检验报告</title>
<style>td { color: red }</style><script>document.write("不应显示")</script></head>
<body><h1>血常规</h1>
<table><tr><th>项目</th><th>结果</th><th>单位</th></tr>
<tr><td>白细胞计数</td><td>6.5</td><td>×10^9/L</td></tr>
<tr><td>血红蛋白</td><td>135</td><td>g/L</td></tr></table>
<p>检验者：王五&nbsp;&nbsp;审核者：赵六<br>报告时间：2024-03-15 10:30</p>
</body></html>
"""


def text_of(data: bytes) -> str:
    with open_document(data) as document:
        return "\n".join(page.text for page in document.page_texts())


@pytest.mark.parametrize(("data", "media_type"), [
    (CDA.encode(), "application/xml"),
    (HIS_EXPORT.encode("gbk"), "application/xml"),
    (b"\xef\xbb\xbf" + HIS_EXPORT.encode("utf-8"), "application/xml"),
    ("<检验报告><结果>135</结果></检验报告>".encode("utf-16"), "application/xml"),
    (HTML_REPORT.encode(), "text/html"),
    (b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body>x</body></html>', "text/html"),
    ("入院记录：主诉胸闷 <3天>".encode(), "text/plain"),
])
def test_markup_is_detected_by_content(data, media_type):
    assert detect(data) == media_type


def test_cda_document_reads_as_titles_narrative_and_labelled_values():
    text = text_of(CDA.encode())
    for expected in ("【入院记录】", "张三", "男性", "【主诉】", "反复咳嗽、咳痰3天，发热1天",
                     "体温：38.6 ℃", "入院诊断：社区获得性肺炎"):
        assert expected in text
    # identifiers, template ids and machine codes are not for readers
    for hidden in ("2.16.156", "RN001", "DE04.10.186.00", "20240315101500"):
        assert hidden not in text


def test_cda_metadata_says_how_it_was_read():
    with open_document(CDA.encode()) as document:
        assert document.metadata().extra["read_as"] == "cda"
        assert document.metadata().media_type == "application/xml"


def test_gbk_xml_export_reads_as_labelled_fields():
    text = text_of(HIS_EXPORT.encode("gbk"))
    assert "【检验报告】" in text and "患者姓名：李四" in text
    assert "名称：血红蛋白" in text and "结果：135" in text
    assert "item：code=WBC value=6.5" in text


def test_html_report_shows_visible_text_rows_and_cells():
    text = text_of(HTML_REPORT.encode())
    assert "血常规检验报告" in text and "血常规" in text
    assert "白细胞计数    6.5    ×10^9/L" in text  # cells: a tab, laid out as four spaces
    assert "检验者：王五 审核者：赵六\n报告时间：2024-03-15 10:30" in text
    assert "不应显示" not in text and "color" not in text


def test_xml_with_entity_definitions_is_refused():
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<r>&b;</r>"""
    with pytest.raises(FormatError, match="实体"), open_document(bomb) as document:
        document.page_texts()


def test_external_entity_is_refused_and_never_read():
    xxe = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"""
    with pytest.raises(FormatError, match="实体"), open_document(xxe) as document:
        document.page_texts()


def test_broken_xml_is_shown_as_the_text_it_is():
    broken = "<检验报告><结果>135</结果><单位>g/L</检验报告".encode()
    with open_document(broken) as document:
        assert document.metadata().extra["read_as"] == "raw"
        assert "<结果>135</结果>" in document.page_texts()[0].text


def test_deeply_nested_xml_does_not_crash():
    depth = 20_000
    deep = ("<a>" * depth + "肺炎" + "</a>" * depth).encode()
    with open_document(deep) as document:
        last = document.page_texts()[-1].text
    assert last.endswith("                a：肺炎")  # indentation stops growing at 8 levels


def test_markup_pages_render_like_text_pages():
    with open_document(HTML_REPORT.encode()) as document:
        image = document.render(1, dpi=50)
    assert image.width > 0 and image.getextrema() != ((255, 255),)
