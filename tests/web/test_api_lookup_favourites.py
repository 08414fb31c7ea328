"""The JSON API says what the pages say: how each looked-up number matched (病案号 / 别名 / 住院号),
and the favourites list narrowed by folder and words like the favourites page."""
from __future__ import annotations

from bingan.storage.db import session_factory
from bingan.storage.models import Record, RecordNumberAlias


def _api(client, method: str, url: str, **json):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.request(method, url, json=json or None, headers={"X-CSRF-Token": token})


def test_lookup_reports_how_each_number_matched(client_for, web_engine, world):
    with session_factory(web_engine)() as session, session.begin():
        session.add(RecordNumberAlias(alias="M88001", record_number="0000002"))
        session.get(Record, world.records["other_department"].id).inpatient_number = "ZY2026004"
    answer = _api(client_for("archivist"), "POST", "/api/v1/lookup",
                  numbers=["0000001", "M88001", "ZY2026004", "0999999"]).json()
    assert answer["matched"] == {"0000001": "病案号", "M88001": "别名", "ZY2026004": "住院号"}
    assert answer["missing"] == ["0999999"]


def _favourite(client, record_id: int, folder: str, note: str) -> None:
    assert _api(client, "PUT", f"/api/v1/records/{record_id}/favourite", folder=folder, note=note).status_code == 200


def _listed(client, query: str = "") -> list[str]:
    return [row["record_number"] for row in client.get(f"/api/v1/favourites{query}").json()["records"]]


def test_favourites_filtered_by_folder_and_words_like_the_page(client_for, world):
    clinician = client_for("clinician")
    _favourite(clinician, world.records["normal"].id, "教学病例", "典型社区获得性肺炎")
    _favourite(clinician, world.records["granted"].id, "", "会诊病例")
    assert sorted(_listed(clinician)) == ["0000001", "0000005"]
    assert _listed(clinician, "?folder=教学病例") == ["0000001"]
    assert _listed(clinician, "?folder=") == ["0000005"]  # 未分类
    assert _listed(clinician, "?q=会诊") == ["0000005"]
    assert _listed(clinician, "?q=0000001") == ["0000001"]
    assert _listed(clinician, "?folder=教学病例&q=会诊") == []


def test_a_folder_name_longer_than_any_folder_is_refused_in_chinese(client_for):
    response = client_for("clinician").get("/api/v1/favourites?folder=" + "长" * 65)
    assert response.status_code == 422 and "folder" in response.json()["detail"]
