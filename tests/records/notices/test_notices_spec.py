"""Notices through WeCom, DingTalk and a webhook, on SQLite and PostgreSQL, against peers that
check tokens and signatures: a QC return reaches the doctor's WeCom and DingTalk and the group
robots; tokens are cached and renewed on 40014/42001; failures are retried with backoff and logged;
a rolled-back action sends nothing; only bound users get personal notices."""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from urllib.parse import quote_plus

import pytest
import sqlalchemy as sa
from qc_fixtures import submitted_record

from bingan import broker
from bingan.access.audit import Actor
from bingan.access.policy import aware
from bingan.errors import Refusal
from bingan.records.approvals import notifier
from bingan.records.notices import service
from bingan.records.notices.channels import dingtalk_sign
from bingan.records.notices.scheduled import deliver_due
from bingan.records.qc import service as qc
from bingan.storage.models import Document, utcnow
from bingan.storage.models.notices import NoticeChannel, NoticeDelivery

ADMIN = Actor(None, "sysadmin", "10.0.0.1")


@pytest.fixture(autouse=True)
def _outbox(monkeypatch) -> None:
    """As the app and the worker install it (records/workflows.py)."""
    monkeypatch.setattr(notifier, "NOTIFIERS", [notifier.InAppNotifier(), service.OutboxNotifier()])


def _set_up(session, wecom, dingtalk, webhook, world) -> None:
    (wecom_state, wecom_url), (ding_state, ding_url), (hook_state, hook_url) = wecom, dingtalk, webhook
    service.save_channel(session, ADMIN, "wecom", enabled=True, kinds=[], secret=wecom_state.corp_secret, values={
        "corp_id": wecom_state.corp_id, "agent_id": str(wecom_state.agent_id), "base_url": wecom_url})
    service.save_channel(session, ADMIN, "wecom_robot", enabled=True, kinds=["return"], values={
        "webhook_url": f"{wecom_url}/cgi-bin/webhook/send?key={wecom_state.robot_key}"})
    service.save_channel(session, ADMIN, "dingtalk", enabled=True, kinds=[], secret=ding_state.app_secret, values={
        "app_key": ding_state.app_key, "agent_id": str(ding_state.agent_id), "base_url": ding_url})
    service.save_channel(session, ADMIN, "dingtalk_robot", enabled=True, kinds=["return"],
                         secret=ding_state.robot_secret,
                         values={"webhook_url": f"{ding_url}/robot/send?access_token={ding_state.robot_token}"})
    service.save_channel(session, ADMIN, "webhook", enabled=True, kinds=[], secret=hook_state.secret,
                         values={"url": f"{hook_url}/hook"})
    service.save_site_url(session, ADMIN, "https://bingan.example.org/")
    attending = world.users["attending"]
    service.bind(session, Actor.of(attending), attending, "wecom", "LiZhuRen")
    service.bind(session, Actor.of(attending), attending, "dingtalk", "manager4721")
    session.commit()


def _return_record(session, world, record) -> None:
    reviewer = world.users["qc"]
    document = session.scalars(sa.select(Document).where(Document.record_id == record.id)).first()
    qc.comment(session, Actor.of(reviewer), reviewer, record, document.id, 2, "medical", "主诉与现病史不符")
    qc.return_record(session, Actor.of(reviewer), reviewer, record)
    session.commit()


def _deliver_all(session) -> dict[str, str]:
    """What the worker does when kicked: every waiting delivery once."""
    states = {}
    for delivery_id in service.due_deliveries(session, utcnow()):
        delivery = session.get(NoticeDelivery, delivery_id)
        states[f"{delivery.channel}:{delivery.user.username}"] = service.deliver(session, delivery_id)
    session.commit()
    return states


def test_a_qc_return_reaches_the_doctor_on_wecom_and_dingtalk_and_both_group_robots(
        session, world, wecom, dingtalk, webhook):
    _set_up(session, wecom, dingtalk, webhook, world)
    record = submitted_record(session, world)
    _return_record(session, world, record)

    states = _deliver_all(session)

    assert states["wecom:dr_li"] == states["dingtalk:dr_li"] == "sent"
    assert "wecom:dr_wang" not in states  # not bound: nothing to send on the personal channels
    card = wecom[0].messages[0]
    assert card["touser"] == "LiZhuRen" and card["agentid"] == wecom[0].agent_id
    assert card["msgtype"] == "textcard" and "0100001" in card["textcard"]["title"]
    assert card["textcard"]["url"].startswith("https://bingan.example.org/qc/returned")
    notice = dingtalk[0].notices[0]
    assert notice["userid_list"] == "manager4721" and notice["agent_id"] == dingtalk[0].agent_id
    assert any("0100001" in m["text"]["content"] for m in wecom[0].robot_messages)
    assert any("0100001" in m["text"]["content"] for m in dingtalk[0].robot_messages)  # the peer checked 加签
    assert {m["recipient"]["username"] for m in webhook[0].received} >= {"dr_li", "dr_wang"}


def test_the_dingtalk_robot_signature_is_base64_hmac_of_timestamp_and_secret_url_encoded():
    expected = hmac.new(b"SECxxxx", b"1577262236757\nSECxxxx", hashlib.sha256).digest()
    assert dingtalk_sign("SECxxxx", 1577262236757) == quote_plus(base64.b64encode(expected).decode())


def test_the_access_token_is_cached_and_fetched_again_when_wecom_says_it_expired(session, world, wecom, dingtalk,
                                                                                 webhook):
    _set_up(session, wecom, dingtalk, webhook, world)
    attending = world.users["attending"]
    for title in ("第一条", "第二条"):
        notifier.notify(session, attending, "reminder", title)
        session.commit()
        _deliver_all(session)
    assert len(wecom[0].tokens) == 1  # one gettoken for two messages

    wecom[0].expire_tokens()  # WeCom answers 42001 to the cached token
    notifier.notify(session, attending, "reminder", "第三条")
    session.commit()
    assert _deliver_all(session)["wecom:dr_li"] == "sent"
    assert len(wecom[0].tokens) == 2
    assert [m["text"]["content"].splitlines()[0] for m in wecom[0].messages][-1] == "【病案系统】第三条"


def test_a_failing_peer_is_retried_with_growing_waits_and_logged_then_given_up(session, world, wecom, dingtalk,
                                                                               webhook):
    _set_up(session, wecom, dingtalk, webhook, world)
    webhook[0].failures_left = 100
    notifier.notify(session, world.users["attending"], "reminder", "审批待办")
    session.commit()
    delivery = session.scalars(sa.select(NoticeDelivery).where(NoticeDelivery.channel == "webhook")).one()

    now, waits = utcnow(), []
    for _ in range(service.MAX_ATTEMPTS):
        assert service.deliver(session, delivery.id, now) in {"pending", "failed"}
        session.commit()
        waits.append(aware(delivery.next_attempt_at) - now)
        now = aware(delivery.next_attempt_at) + timedelta(seconds=1)

    assert delivery.status == "failed" and delivery.attempts == service.MAX_ATTEMPTS
    assert waits[:3] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert [t.error_code for t in delivery.tries] == ["500"] * service.MAX_ATTEMPTS
    assert service.deliver(session, delivery.id, now) == "not due"  # given up: never sent again by itself

    webhook[0].failures_left = 0
    service.retry_now(session, ADMIN, delivery.id)  # the administrator sends it again from the log
    assert service.deliver(session, delivery.id) == "sent"


def test_the_timed_sweep_sends_what_a_lost_kick_left_waiting(session, world, wecom, dingtalk, webhook):
    _set_up(session, wecom, dingtalk, webhook, world)
    notifier.notify(session, world.users["attending"], "approval", "借阅申请待审批", link="/approvals/7")
    session.commit()
    assert deliver_due(session, utcnow()) == 3  # WeCom, DingTalk, webhook (the robots carry returns only)
    session.commit()
    assert deliver_due(session, utcnow()) == 0


def test_a_rolled_back_action_leaves_no_notice(session, world, wecom, dingtalk, webhook):
    _set_up(session, wecom, dingtalk, webhook, world)
    notifier.notify(session, world.users["attending"], "reminder", "不会发送")
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(NoticeDelivery)) == 0
    assert not session.info.get(broker.AFTER_COMMIT)  # nor a kick for the worker


def test_a_wrong_secret_is_logged_with_the_peers_error_code(session, world, wecom, dingtalk, webhook):
    _set_up(session, wecom, dingtalk, webhook, world)
    service.save_channel(session, ADMIN, "wecom", enabled=True, kinds=[], secret="wrong", values={
        "corp_id": wecom[0].corp_id, "agent_id": str(wecom[0].agent_id), "base_url": wecom[1]})
    notifier.notify(session, world.users["attending"], "reminder", "待办")
    session.commit()
    assert _deliver_all(session)["wecom:dr_li"] == "pending"
    delivery = session.scalars(sa.select(NoticeDelivery).where(NoticeDelivery.channel == "wecom")).one()
    assert delivery.error_code == "40001" and delivery.tries[0].error == "invalid credential"


def test_a_channel_is_enabled_only_with_what_it_needs_and_secrets_stay_sealed(session, world):
    with pytest.raises(Refusal, match="corpid"):
        service.save_channel(session, ADMIN, "wecom", enabled=True, kinds=[], values={"agent_id": "1000002"})
    with pytest.raises(Refusal, match="AgentId须为数字"):
        service.save_channel(session, ADMIN, "dingtalk", enabled=False, kinds=[], values={"agent_id": "abc"})
    service.save_channel(session, ADMIN, "webhook", enabled=True, kinds=[], secret="s3cret",
                         values={"url": "https://mq.hospital/hook"})
    session.commit()
    stored = session.get(NoticeChannel, "webhook")
    assert stored.secret and "s3cret" not in stored.secret
    view = {v.code: v for v in service.channels(session)}["webhook"]
    assert view.enabled and view.has_secret and "s3cret" not in str(view.settings)


def test_a_binding_is_the_users_own_and_an_empty_id_unbinds(session, world):
    doctor = world.users["attending"]
    service.bind(session, Actor.of(doctor), doctor, "wecom", "LiZhuRen")
    assert service.bindings_of(session, doctor) == {"wecom": "LiZhuRen", "dingtalk": ""}
    with pytest.raises(Refusal):
        service.bind(session, Actor.of(doctor), doctor, "wecom", "Li Zhu Ren")
    service.bind(session, Actor.of(doctor), doctor, "wecom", "")
    assert service.bindings_of(session, doctor)["wecom"] == ""
