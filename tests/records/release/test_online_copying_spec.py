"""Online copy applications (issue 15 item 4: the patient app) on a real database: the record is
named in full or not found (one answer for every mismatch), the window's rules apply, the record
room approves or rejects with a reason, the app's payment starts the same copy job, and the
patient's download link works only once printed, until its date and for its number of downloads."""
from __future__ import annotations

from datetime import timedelta

import pytest
from release_support import AGENT, POLICE, run_queued_jobs

from bingan.access.audit import Actor
from bingan.config import get_settings
from bingan.errors import Conflict, NotFound, Refusal
from bingan.records.release import online, service
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import utcnow
from bingan.storage.models.release import CopyRequest


@pytest.fixture
def app_user(session, world):
    """The patient app's service user (an API token's user acts like this)."""
    return world.users["copy_clerk"]


def _form(world, state="normal", applicant=AGENT, **changes) -> online.OnlineForm:
    record = world.records[state]
    return online.OnlineForm(**{
        "applicant": service.Applicant(**applicant), "record_number": record.record_number,
        "patient_name": record.patient.name, "patient_id_number": record.patient.id_number,
        "package": "reimbursement", **changes})


def _apply(session, world, app_user, **changes) -> tuple[CopyRequest, str]:
    request, token = online.apply(session, Actor.of(app_user), app_user, open_blob_store(get_settings()),
                                  _form(world, **changes))
    session.commit()
    return request, token


def _reviewer(world):
    return Actor.of(world.users["archivist"]), world.users["archivist"]


def _printed(session, world, app_user) -> tuple[CopyRequest, str]:
    request, token = _apply(session, world, app_user)
    online.approve(session, *_reviewer(world), request)
    online.pay(session, Actor.of(app_user), app_user, request, "WX-2026-0001")
    session.commit()
    assert run_queued_jobs(session.get_bind()) == ["done"]
    session.expire_all()
    return session.get(CopyRequest, request.id), token


def test_an_online_application_waits_for_review_with_the_windows_fee(session, world, app_user):
    request, token = _apply(session, world, app_user)
    assert request.status == "pending_review" and request.channel == "online"
    assert request.fee_fen == 6 * 50 + 500 and request.pages == 6 and len(token) > 30
    assert request.download_hash and token not in request.download_hash


@pytest.mark.parametrize("wrong", [{"patient_name": "李秀英"}, {"record_number": "0099999"},
                                   {"patient_id_number": "11010519491231002X"}])
def test_a_record_not_named_in_full_is_not_found_with_one_answer(session, world, app_user, wrong):
    with pytest.raises(NotFound, match="未找到与所填患者信息相符的病案"):
        _apply(session, world, app_user, **wrong)


def test_the_windows_rules_apply_online(session, world, app_user):
    with pytest.raises(Refusal, match="封存的病案一律不予复印"):
        _apply(session, world, app_user, state="sealed")
    with pytest.raises(Refusal, match="校验位错误"):
        _apply(session, world, app_user, applicant={**AGENT, "id_number": "110105198001010017"})


def test_rejecting_needs_a_reason_and_ends_the_application(session, world, app_user):
    request, _ = _apply(session, world, app_user)
    with pytest.raises(Refusal, match="请填写驳回原因"):
        online.reject(session, *_reviewer(world), request, " ")
    online.reject(session, *_reviewer(world), request, "授权委托书不清晰")
    assert request.status == "rejected" and request.review_reason == "授权委托书不清晰"
    with pytest.raises(Conflict, match="已驳回"):
        online.approve(session, *_reviewer(world), request)


def test_payment_waits_for_approval(session, world, app_user):
    request, _ = _apply(session, world, app_user)
    with pytest.raises(Conflict, match="审核中"):
        online.pay(session, Actor.of(app_user), app_user, request, "WX-1")


def test_a_free_applicant_goes_straight_to_the_copy_job_when_approved(session, world, app_user):
    request, _ = _apply(session, world, app_user, applicant=POLICE)
    assert request.fee_fen == 0
    job = online.approve(session, *_reviewer(world), request)
    assert job is not None and request.job_id == job.id


def test_the_download_works_once_printed_and_stops_after_its_downloads(session, world, app_user):
    request, token = _apply(session, world, app_user)
    with pytest.raises(online.DownloadRefused, match="尚未生成"):
        online.download(session, token, "10.0.0.8")
    request, token = _printed(session, world, app_user)
    assert request.status == "printed" and request.download_expires_at is not None
    for _ in range(online.MAX_DOWNLOADS):
        found, job = online.download(session, token, "10.0.0.8")
        assert found.id == request.id and job.result_sha256
    with pytest.raises(online.DownloadRefused, match="下载次数已用完"):
        online.download(session, token, "10.0.0.8")


def test_the_download_stops_after_its_date_and_after_a_refund(session, world, app_user):
    request, token = _printed(session, world, app_user)
    later = utcnow() + timedelta(days=service.ONLINE_DOWNLOAD_DAYS, minutes=1)
    with pytest.raises(online.DownloadRefused, match="已过期"):
        online.download(session, token, "10.0.0.8", now=later)
    service.refund(session, *_reviewer(world), request, "患者撤回申请")
    with pytest.raises(online.DownloadRefused, match="已退费"):
        online.download(session, token, "10.0.0.8")
    with pytest.raises(NotFound):
        online.download(session, "not-a-token", "10.0.0.8")
