"""The administrator's status page (T2) as a system administrator sees it."""


def test_status_page_shows_health_volumes_and_components(client_for):
    page = client_for("sysadmin").get("/admin/status")
    assert page.status_code == 200
    for text in ("系统状态", "数据库", "存储卷", "层级", "热存储", "读写", "组件版本"):
        assert text in page.text


def test_status_page_is_refused_to_clinicians(client_for):
    assert client_for("clinician").get("/admin/status").status_code == 403
