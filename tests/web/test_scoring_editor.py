"""评分标准在页面上修改: the record room edits the table in the browser — items changed, deleted and added,
a section added — and saving makes a new version; a wrong value is refused in Chinese, nothing saved,
what was typed kept on the form."""
from __future__ import annotations

from html.parser import HTMLParser

import sqlalchemy as sa

from bingan.storage.db import session_factory
from bingan.storage.models.scoring import ScoringStandard


class FormFields(HTMLParser):
    """The fields a browser would post from the page's forms: inputs with their values, selects'
    chosen options."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name") and attrs.get("type") != "file":
            self.fields[attrs["name"]] = attrs.get("value") or ""
        elif tag == "select":
            self._select = attrs.get("name")
            self.fields.setdefault(self._select, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields[self._select] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def fields_of(html: str) -> dict[str, str]:
    parser = FormFields()
    parser.feed(html)
    return parser.fields


def current_standard(web_engine) -> ScoringStandard:
    with session_factory(web_engine)() as session:
        return session.scalars(sa.select(ScoringStandard).where(ScoringStandard.current)).one()


def opened_editor(qc, web_engine) -> tuple[int, dict[str, str]]:
    qc.get("/scoring/standards")  # the shipped default is stored on first use
    standard = current_standard(web_engine)
    page = qc.get(f"/scoring/standards/{standard.id}/edit")
    assert page.status_code == 200
    return standard.id, fields_of(page.text)


def test_items_changed_deleted_and_added_and_a_new_section_become_a_new_version(client_for, web_engine):
    qc = client_for("qc")
    standard_id, form = opened_editor(qc, web_engine)
    before = current_standard(web_engine)
    first_item = before.sections[0]["items"][0]
    assert form["s1-i1-text"] == first_item["text"]
    form["s1-i1-deduction"] = "3"
    deleted = form["s1-i2-text"]
    form["s1-i2-text"] = ""
    added = len(before.sections[0]["items"]) + 1  # the first blank row under the first section
    form.update({f"s1-i{added}-text": "出院小结缺主治医师签名", f"s1-i{added}-deduction": "1",
                 f"s1-i{added}-max_times": "2"})
    new = len(before.sections) + 1  # the blank section at the end
    form.update({f"s{new}-name": "知情同意", f"s{new}-points": "5", f"s{new}-i1-text": "手术同意书缺患者签字",
                 f"s{new}-i1-deduction": "0", f"s{new}-i1-veto": "fixed", f"s{new}-i1-veto_points": "10"})
    saved = qc.post(f"/scoring/standards/{standard_id}/edit", data=form, follow_redirects=False)
    assert saved.status_code == 303
    after = current_standard(web_engine)
    assert after.id != before.id and after.version == before.version + 1 and after.name == before.name
    items = after.sections[0]["items"]
    assert items[0]["deduction"] == 3 and deleted not in [item["text"] for item in items]
    assert items[-1] == {**items[-1], "code": f"1.{len(items)}", "text": "出院小结缺主治医师签名", "max_times": 2}
    assert after.sections[-1]["name"] == "知情同意" and after.sections[-1]["items"][0]["veto"] == "fixed"
    with session_factory(web_engine)() as session:
        kept = session.get(ScoringStandard, before.id)
        assert kept.sections == before.sections and not kept.current  # the old version as it was


def test_a_wrong_value_is_refused_in_chinese_and_the_typed_table_stays(client_for, web_engine):
    qc = client_for("qc")
    standard_id, form = opened_editor(qc, web_engine)
    form["s1-i1-deduction"] = "两分"
    form["s2-i1-text"] = "改过的评分内容"
    answer = qc.post(f"/scoring/standards/{standard_id}/edit", data=form)
    assert answer.status_code == 400 and "每处扣分应为数字" in answer.text
    again = fields_of(answer.text)
    assert again["s1-i1-deduction"] == "两分" and again["s2-i1-text"] == "改过的评分内容"
    assert current_standard(web_engine).id == standard_id


def test_the_editor_is_for_the_scoring_managers_only(client_for, web_engine):
    qc = client_for("qc")
    standard_id, _form = opened_editor(qc, web_engine)
    clinician = client_for("clinician")
    assert clinician.get(f"/scoring/standards/{standard_id}/edit").status_code == 403
