"""临时授权 page (/admin/grants): whoever holds grants.manage grants by record number and revokes;
the gate honours the revocation at once."""
from __future__ import annotations

import sqlalchemy as sa
from web_helpers import csrf_of

from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, Grant


def post(client, path: str, **data):
    data["csrf_token"] = csrf_of(client.get("/admin/grants").text)
    return client.post(path, data=data, follow_redirects=False)


def grant_to_nurse(grantor, world, state: str = "other_department", **extra):
    record = world.records[state]
    return post(grantor, "/admin/grants", username="u_nurse", record_number=record.record_number, stay="1",
                actions="view", days="7", reason="会诊", **extra)


def test_medical_affairs_holding_grants_manage_opens_the_grants_page(client_for):
    page = client_for("medical_affairs").get("/admin/grants")
    assert page.status_code == 200 and "病案号" in page.text and "住院次数" in page.text


def test_a_user_without_grants_manage_is_refused(client_for):
    assert client_for("clinician").get("/admin/grants").status_code == 403


def test_a_grant_names_the_record_by_number_and_is_listed_by_number_and_user_name(client_for, world, web_engine):
    grantor = client_for("medical_affairs")
    response = grant_to_nurse(grantor, world)
    assert response.status_code == 303 and "message=" in response.headers["location"]
    with session_factory(web_engine)() as session:
        given = session.scalars(sa.select(Grant).where(Grant.user_id == world.users["nurse"].id)).one()
        assert given.record_id == world.records["other_department"].id and given.actions == ["view"]
    page = grantor.get("/admin/grants").text
    row = page.split("测试nurse", 1)[1].split("</tr>", 1)[0]
    assert world.records["other_department"].record_number in row and "有效" in row


def test_an_unknown_record_number_is_refused_in_chinese_and_grants_nothing(client_for, world, web_engine):
    response = post(client_for("medical_affairs"), "/admin/grants", username="u_nurse", record_number="9999999",
                    stay="1", actions="view")
    assert response.status_code == 400 and "未找到病案号 9999999" in response.text
    with session_factory(web_engine)() as session:
        assert session.scalar(sa.select(sa.func.count(Grant.id)).where(Grant.reason == "会诊")) == 0


def test_a_revoked_grant_no_longer_opens_the_record(client_for, world, web_engine):
    grantor, nurse = client_for("medical_affairs"), client_for("nurse")
    record_id = world.records["other_department"].id
    grant_to_nurse(grantor, world)
    assert nurse.get(f"/records/{record_id}").status_code == 200
    with session_factory(web_engine)() as session:
        grant_id = session.scalars(sa.select(Grant.id).where(Grant.user_id == world.users["nurse"].id)).one()
    response = post(grantor, f"/admin/grants/{grant_id}/revoke", reason="会诊结束")
    assert response.status_code == 303
    assert nurse.get(f"/records/{record_id}").status_code == 403
    with session_factory(web_engine)() as session:
        assert session.get(Grant, grant_id).revoked_at is not None
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "revoke")).one()
        assert event.record_id == record_id and event.detail["原因"] == "会诊结束"
    assert "已撤销" in grantor.get("/admin/grants").text


def test_revoking_needs_a_reason_and_happens_once(client_for, world, web_engine):
    grantor = client_for("medical_affairs")
    grant_to_nurse(grantor, world)
    with session_factory(web_engine)() as session:
        grant_id = session.scalars(sa.select(Grant.id).where(Grant.user_id == world.users["nurse"].id)).one()
    assert post(grantor, f"/admin/grants/{grant_id}/revoke", reason=" ").status_code == 400
    assert post(grantor, f"/admin/grants/{grant_id}/revoke", reason="会诊结束").status_code == 303
    assert post(grantor, f"/admin/grants/{grant_id}/revoke", reason="再次撤销").status_code == 409
