"""The self-service copy kiosk through the app (issue 15 item 4): the kiosk PC signed in as a service
account of the built-in role 自助机 (copy.kiosk only) walks a patient through 请刷身份证 → 本人病案 →
套餐与份数 → 缴费 → 打印 → 完成, each a full screen without the menu; refusals (another patient's
record, sealed, unarchived without stage copying, cash) are the kiosk's own screens with the reason;
the account reaches nothing but the kiosk, and each step is audited with the patient's masked ID."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from web_helpers import csrf_of, sign_in
from world import PASSWORD

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records" / "release"))

from release_support import run_queued_jobs

from bingan import broker
from bingan.access.accounts import create_user
from bingan.records import lifecycle
from bingan.records.release import kiosk, rules
from bingan.records.workflows import install
from bingan.storage.db import session_factory
from bingan.storage.models import AuditEvent, Record
from bingan.storage.models.release import CopyRequest
from bingan.web.kiosk import ONLY_KIOSK, VISIT_COOKIE


@pytest.fixture(autouse=True)
def quiet_broker(monkeypatch) -> None:
    install()
    monkeypatch.setattr(broker, "celery_app", broker.make_celery())


@pytest.fixture
def machine(app, client_for, web_engine):
    """The kiosk PC: its service account signed in; the hospital lets patients type their ID number."""
    with session_factory(web_engine)() as session, session.begin():
        create_user(session, "u_kiosk", PASSWORD, ["kiosk"], full_name="门诊大厅自助机", must_change_password=False)
        typed(session, True)
    client = client_for("anonymous")
    assert sign_in(client, "u_kiosk").status_code == 303
    return client


def typed(session, allowed: bool) -> None:
    current = rules.copy_rules(session)
    rules.save_copy_rules(session, lifecycle.SYSTEM, rules.CopyRules(
        current.fees, current.stage_copying, current.card_reader_url, kiosk_typed_entry=allowed))


def _token(client) -> str:
    return csrf_of(client.get("/kiosk").text)


def _identify(client, world, state="normal", **changes):
    patient = world.records[state].patient
    data = {"id_number": patient.id_number, "name": patient.name, "card": "", "csrf_token": _token(client), **changes}
    return client.post("/kiosk/identify", data=data, follow_redirects=False)


def _apply(client, record_id: int, package="reimbursement", copies=1, token_from: int | None = None):
    token = csrf_of(client.get(f"/kiosk/records/{token_from or record_id}").text)
    return client.post(f"/kiosk/records/{record_id}/requests",
                       data={"package": package, "copies": copies, "csrf_token": token}, follow_redirects=False)


def _events(web_engine, action: str) -> list[AuditEvent]:
    with session_factory(web_engine)() as session:
        return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_step_one_is_a_full_screen_that_may_call_the_card_reader(machine, web_engine):
    answer = machine.get("/kiosk")
    assert answer.status_code == 200 and "请将身份证放在读卡区" in answer.text
    assert 'aria-label="主菜单"' not in answer.text and "/static/kiosk.css" in answer.text
    with session_factory(web_engine)() as session:
        reader = rules.copy_rules(session).card_reader_url
    assert f"connect-src 'self' {reader}" in answer.headers["content-security-policy"]
    assert 'data-idle-seconds="90"' in answer.text


def test_the_kiosks_account_is_sent_to_the_kiosk_and_reaches_nothing_else(machine, world):
    assert machine.get("/", follow_redirects=False).headers["location"] == "/kiosk"
    for path in ("/search?q=肺炎", f"/records/{world.records['normal'].id}", "/copy-window", "/settings",
                 "/api/v1/copy-requests", "/api/v1/jobs/1"):
        answer = machine.get(path, follow_redirects=False)
        assert answer.status_code == 403, path
    assert ONLY_KIOSK in machine.get("/settings").text


def test_a_typed_id_number_and_name_lead_to_the_patients_own_records(machine, world, web_engine):
    answer = _identify(machine, world)
    assert answer.status_code == 303 and answer.headers["location"] == "/kiosk/records"
    screen = machine.get("/kiosk/records").text
    assert f'data-record="{world.records["normal"].id}"' in screen and "0000001" in screen
    assert all(f'data-record="{world.records[state].id}"' not in screen for state in ("sealed", "other_department"))
    masked = kiosk.Visitor(world.records["normal"].patient.id_number, "").masked
    assert masked in screen and world.records["normal"].patient.id_number not in screen
    identified = _events(web_engine, "copy.kiosk_identify")[-1]
    assert identified.detail["申请人"] == masked and identified.detail["读卡"] is False


def test_a_card_read_is_kept_on_the_request(machine, world, web_engine):
    _identify(machine, world, card='{"name": "王建国", "sex": "男", "photo": "AAAA"}')
    assert _apply(machine, world.records["normal"].id).status_code == 303
    with session_factory(web_engine)() as session:
        request = session.scalars(sa.select(CopyRequest)).one()
        assert request.card == {"name": "王建国", "sex": "男"}  # no photo kept


def test_a_wrong_name_is_refused_on_the_start_screen_and_audited(machine, world, web_engine):
    answer = _identify(machine, world, name="李秀英")
    assert answer.status_code == 404 and kiosk.NOT_FOUND in answer.text
    assert VISIT_COOKIE not in machine.cookies
    refused = _events(web_engine, "copy.kiosk_refused")[-1]
    assert refused.detail["申请人"].endswith(world.records["normal"].patient.id_number[-4:])


def test_the_main_path_choose_pay_print_done(machine, world, web_engine):
    record_id = world.records["normal"].id
    _identify(machine, world)
    choose = machine.get(f"/kiosk/records/{record_id}").text
    assert 'value="reimbursement"' in choose and "住院病案首页" not in choose
    applied = _apply(machine, record_id)
    assert applied.status_code == 303
    pay_screen = machine.get(applied.headers["location"])
    assert 'id="fee-total">6.50<' in pay_screen.text and 'value="cash"' not in pay_screen.text
    base = applied.headers["location"]
    paid = machine.post(f"{base}/pay", data={"method": "card", "reference": "POS-0001",
                                              "csrf_token": csrf_of(pay_screen.text)}, follow_redirects=False)
    assert paid.status_code == 303
    printing = machine.get(base).text
    job_id = int(printing.split('data-job="')[1].split('"')[0])
    assert machine.get(f"/api/v1/jobs/{job_id}").json()["state"] == "queued"  # the job API for this patient's copy
    assert run_queued_jobs(web_engine) == ["done"]
    pdf = machine.get(f"{base}/copy.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert "frame-ancestors 'self'" in pdf.headers["content-security-policy"]
    done = machine.get(f"{base}/done")
    assert "请取走复印件和身份证" in done.text and 'data-done-seconds="20"' in done.text
    assert VISIT_COOKIE not in machine.cookies  # the visit ended with the done screen
    paid_event = _events(web_engine, "copy.kiosk_pay")[-1]
    assert paid_event.detail["申请人"].startswith(world.records["normal"].patient.id_number[:6]) \
        and paid_event.detail["金额"] == "6.50" and paid_event.detail["凭证号"] == "POS-0001"


def test_cash_is_refused_with_the_reason_and_nothing_paid(machine, world, web_engine):
    _identify(machine, world)
    base = _apply(machine, world.records["normal"].id).headers["location"]
    refused = machine.post(f"{base}/pay",
                           data={"method": "cash", "reference": "", "csrf_token": _token_of(machine, base)})
    assert refused.status_code == 400 and "现金请到病案复印窗口" in refused.text
    with session_factory(web_engine)() as session:
        assert session.scalars(sa.select(CopyRequest.status)).one() == "registered"


def _token_of(client, path: str) -> str:
    return csrf_of(client.get(path).text)


def test_going_back_from_paying_cancels_the_unpaid_request(machine, world, web_engine):
    _identify(machine, world)
    base = _apply(machine, world.records["normal"].id).headers["location"]
    back = machine.post(f"{base}/cancel", data={"csrf_token": _token_of(machine, base)}, follow_redirects=False)
    assert back.headers["location"] == f"/kiosk/records/{world.records['normal'].id}"
    with session_factory(web_engine)() as session:
        assert session.scalars(sa.select(CopyRequest.status)).one() == "cancelled"


def test_another_patients_record_is_not_found(machine, world):
    _identify(machine, world)
    other = world.records["other_department"].id
    assert machine.get(f"/kiosk/records/{other}").status_code == 404
    refused = _apply(machine, other, token_from=world.records["normal"].id)
    assert refused.status_code == 404 and "病案不存在" in refused.text


def test_another_patients_request_and_job_are_out_of_reach(machine, world, web_engine):
    _identify(machine, world)
    base = _apply(machine, world.records["normal"].id).headers["location"]
    machine.post(f"{base}/pay", data={"method": "online", "reference": "WX-1", "csrf_token": _token_of(machine, base)})
    with session_factory(web_engine)() as session:
        job_id = session.scalars(sa.select(CopyRequest.job_id)).one()
    _identify(machine, world, "other_department")
    assert machine.get(base).status_code == 404
    assert machine.get(f"{base}/copy.pdf").status_code == 404
    assert machine.get(f"/api/v1/jobs/{job_id}").status_code == 403


def test_a_sealed_record_is_shown_with_its_reason_and_refused(machine, world):
    _identify(machine, world, "sealed")
    screen = machine.get("/kiosk/records").text
    assert "病案已封存，一律不予复印" in screen and world.records["sealed"].record_number not in screen
    assert f'href="/kiosk/records/{world.records["sealed"].id}"' not in screen
    refused = machine.get(f"/kiosk/records/{world.records['sealed'].id}")
    assert refused.status_code == 400 and "病案已封存，一律不予复印" in refused.text
    token = csrf_of(machine.get("/kiosk?again=1").text)  # any screen's token; the visit is read again
    _identify(machine, world, "sealed")
    applied = machine.post(f"/kiosk/records/{world.records['sealed'].id}/requests",
                           data={"package": "reimbursement", "copies": 1, "csrf_token": token})
    assert applied.status_code == 400 and "封存" in applied.text


def test_an_unarchived_record_is_refused_without_stage_copying(machine, world, web_engine):
    record_id = world.records["normal"].id
    with session_factory(web_engine)() as session, session.begin():
        lifecycle.move(session, lifecycle.SYSTEM, session.get(Record, record_id), "recalled", "召回修改")
    _identify(machine, world)
    assert "尚未归档，不予复印" in machine.get("/kiosk/records").text
    refused = machine.get(f"/kiosk/records/{record_id}")
    assert refused.status_code == 400 and "2013 规定第二十一条" in refused.text


def test_without_a_visit_every_step_goes_back_to_the_start(machine, world):
    for path in ("/kiosk/records", f"/kiosk/records/{world.records['normal'].id}", "/kiosk/requests/1"):
        answer = machine.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/kiosk?again=1", path
    assert "请重新刷身份证" in machine.get("/kiosk?again=1").text


def test_the_start_screen_forgets_the_patient(machine, world):
    _identify(machine, world)
    assert VISIT_COOKIE in machine.cookies
    machine.get("/kiosk")
    assert VISIT_COOKIE not in machine.cookies
    assert machine.get("/kiosk/records", follow_redirects=False).status_code == 303


def test_the_window_clerk_cannot_use_the_kiosk(client_for):
    assert client_for("copy_clerk").get("/kiosk").status_code == 403


def test_by_default_the_kiosk_takes_the_card_only_and_refuses_a_typed_number(machine, world, web_engine):
    with session_factory(web_engine)() as session, session.begin():
        typed(session, False)  # the shipped setting
    start = machine.get("/kiosk").text
    assert "请输入身份证号和姓名" not in start and "没有带身份证请到病案复印窗口办理" in start
    answer = _identify(machine, world)
    assert answer.status_code == 400 and "本院自助机不接受手工输入身份证号" in answer.text
    assert _events(web_engine, "copy.kiosk_refused")[-1].detail["读卡"] is False
    carded = _identify(machine, world, card='{"name": "王建国", "sex": "男"}')
    assert carded.status_code == 303 and carded.headers["location"].endswith("/kiosk/records")
