"""The record room's copy rules (issue 15 items 2–4) on a real database: the art. 19 list decides
what outside applicants get, fee rules and packages are checked before they are kept, an
applicant type's papers are what the window asks for, every change is audited; the hospital's
seal image is checked to be a real small PNG or JPEG and then drawn in every page's certifying
mark, the drawn seal staying as the fallback."""
from __future__ import annotations

import io

import numpy as np
import pypdfium2
import pytest
import sqlalchemy as sa
from PIL import Image, ImageDraw
from release_support import PATIENT, run_queued_jobs

from bingan.access.audit import Actor
from bingan.config import get_settings
from bingan.errors import NotFound, Refusal
from bingan.records.release import output, rules, seal, service
from bingan.storage.blobs.port import open_blob_store
from bingan.storage.models import AuditEvent
from bingan.storage.models.jobs import Job

FRONT_PAGE = "C01"  # 住院病案首页, not copyable by outside applicants in the standard catalogue
ADMISSION, DISCHARGE = "C02", "C14"
BLUE = (20, 60, 210)


def _actor(world, role="archivist") -> Actor:
    return Actor.of(world.users[role], "127.0.0.1")


def _events(session, action: str) -> list[AuditEvent]:
    return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _apply(session, world, **what) -> service.CopyRequest:
    record = world.records["normal"]
    form = service.CopyForm(applicant=service.Applicant(**PATIENT), record_ids=[record.id], **what)
    request = service.create_request(session, _actor(world, "copy_clerk"), world.users["copy_clerk"], [record], form)
    session.commit()
    return request


def blue_seal(kind: str = "PNG", side: int = 300) -> bytes:
    """A blue ring on white paper: unlike the drawn red seal, so a page shows which one it got."""
    image = Image.new("RGB", (side, side), "white")
    ImageDraw.Draw(image).ellipse((10, 10, side - 10, side - 10), outline=BLUE, width=side // 12)
    buffer = io.BytesIO()
    image.save(buffer, kind)
    return buffer.getvalue()


def _blue_pixels(image: Image.Image) -> int:
    pixels = np.asarray(image.convert("RGB"), dtype=int)
    return int(((pixels[..., 2] > 150) & (pixels[..., 0] < 90) & (pixels[..., 1] < 120)).sum())


def _red_pixels(image: Image.Image) -> int:
    pixels = np.asarray(image.convert("RGB"), dtype=int)
    return int(((pixels[..., 0] > 150) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)).sum())


# --- the art. 19 list, packages, applicant types, fees -----------------------------------------

def test_the_copyable_list_decides_what_a_patient_gets_and_is_audited(session, world):
    before = _apply(session, world, package="all")
    assert [item["title"] for item in before.items] == ["入院记录", "出院记录"]
    rules.set_copyable_categories(session, _actor(world), [FRONT_PAGE, DISCHARGE])
    session.commit()
    after = _apply(session, world, package="all")
    assert [item["title"] for item in after.items] == ["住院病案首页", "出院记录"]
    event = _events(session, "copy.copyable_change")[-1]
    assert event.detail["新增"] == ["住院病案首页"] and "入院记录" in event.detail["取消"]


def test_an_empty_or_unknown_copyable_list_is_refused(session, world):
    with pytest.raises(Refusal, match="至少选择一个可复印分类"):
        rules.set_copyable_categories(session, _actor(world), [])
    with pytest.raises(Refusal, match="病案分类不存在：C99"):
        rules.set_copyable_categories(session, _actor(world), ["C99"])
    assert ADMISSION in rules.copyable_categories(session)


def test_a_new_package_is_offered_and_a_stopped_one_is_not(session, world):
    rules.save_package(session, _actor(world), "discharge_only", "出院小结套餐", [DISCHARGE], 2)
    request = _apply(session, world, package="出院小结套餐")
    assert request.copies == 2 and [item["title"] for item in request.items] == ["出院记录"]
    rules.save_package(session, _actor(world), "discharge_only", "出院小结套餐", [DISCHARGE], 2, active=False)
    with pytest.raises(Refusal, match="不存在或已停用"):
        _apply(session, world, package="discharge_only")
    assert _events(session, "copy.package_save")[-1].detail["启用"] is False


@pytest.mark.parametrize(("code", "name", "categories", "copies", "message"), [
    ("bad code!", "套餐", [], 1, "字母、数字、下划线"),
    ("ok", "", [], 1, "请填写套餐名称"),
    ("ok", "套餐", [], 21, "份数应为 1 至 20"),
    ("ok", "套餐", ["C99"], 1, "分类不存在：C99"),
])
def test_a_bad_package_is_refused_in_chinese(session, world, code, name, categories, copies, message):
    with pytest.raises(Refusal, match=message):
        rules.save_package(session, _actor(world), code, name, categories, copies)


def test_an_applicant_types_papers_are_what_the_window_asks_for(session, world):
    rules.set_applicant_type(session, _actor(world), "patient", free=False, outside=True,
                             papers=["申请人有效身份证明", "就诊卡"])
    request = _apply(session, world, package="reimbursement")
    assert [paper["name"] for paper in service.missing_papers(session, request)] == ["申请人有效身份证明", "就诊卡"]
    with pytest.raises(NotFound):
        rules.set_applicant_type(session, _actor(world), "nobody", free=False, outside=True, papers=[])
    with pytest.raises(Refusal, match="最多12项"):
        rules.set_applicant_type(session, _actor(world), "patient", free=False, outside=True,
                                 papers=[f"材料{n}" for n in range(13)])


def test_fee_rules_in_yuan_are_kept_in_fen_and_change_the_next_fee(session, world):
    fees = rules.FeeRules(page_fen=rules.parse_yuan("0.3", "复印费"), retrieval_fen=rules.parse_yuan("10", "调档费"),
                          free_categories=(DISCHARGE,))
    rules.save_copy_rules(session, _actor(world), rules.CopyRules(fees=fees))
    request = _apply(session, world, package="reimbursement")
    assert request.fee_fen == 3 * 30 + 1000  # 出院记录's 3 pages are free
    with pytest.raises(Refusal, match="最多两位小数"):
        rules.parse_yuan("0.555", "复印费")
    with pytest.raises(Refusal, match="免费分类不存在"):
        rules.save_copy_rules(session, _actor(world), rules.CopyRules(fees=rules.FeeRules(free_categories=("C99",))))
    with pytest.raises(Refusal, match="应在 0 至 10000 元之间"):
        rules.save_copy_rules(session, _actor(world), rules.CopyRules(fees=rules.FeeRules(page_fen=2_000_000)))


# --- the seal image ----------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "message"), [
    (b"", "请选择印章图片文件"),
    (b"\x89PNG\r\n\x1a\n" + b"not really a png" * 20, "无法识别"),
    (blue_seal("PNG")[:400], "已损坏"),
    (blue_seal("GIF"), "只支持 PNG 或 JPEG"),
    (blue_seal("PNG", side=40), "60–2000 像素"),
    (b"\x89PNG" + bytes(600 * 1024), "不能超过 512 KB"),
])
def test_a_seal_that_is_not_a_small_real_png_or_jpeg_is_refused(session, world, data, message):
    with pytest.raises(Refusal, match=message):
        seal.set_seal(session, _actor(world), data)
    assert seal.seal_info(session) is None


def test_an_uploaded_seal_is_kept_audited_and_removable(session, world):
    info = seal.set_seal(session, _actor(world), blue_seal("JPEG"))
    assert info["media_type"] == "image/jpeg" and (info["width"], info["height"]) == (300, 300)
    assert seal.seal_bytes(session)[0] == blue_seal("JPEG")
    assert _events(session, "copy.seal_set")[-1].detail["尺寸"] == "300×300"
    seal.remove_seal(session, _actor(world))
    assert seal.seal_info(session) is None and _events(session, "copy.seal_remove")
    with pytest.raises(Refusal, match="尚未上传"):
        seal.remove_seal(session, _actor(world))


def test_the_certifying_mark_carries_the_uploaded_seal_with_its_white_made_transparent():
    page = Image.new("RGB", (1000, 1414), (250, 250, 180))  # a yellowish page shows any white square
    stamped = output.certify(page, "示例医院", "2026年04月01日", "复印申请 1", ("示例医院", "仅供测试"),
                             blue_seal("JPEG"))
    corner = stamped.crop((500, 1000, 1000, 1414))
    assert _blue_pixels(corner) > 300
    pixels = np.asarray(corner, dtype=int)
    assert ((pixels[..., 0] > 245) & (pixels[..., 1] > 245) & (pixels[..., 2] > 245)).sum() < 50
    drawn = output.certify(page, "示例医院", "2026年04月01日", "复印申请 1", ("示例医院", "仅供测试"))
    assert _blue_pixels(drawn.crop((500, 1000, 1000, 1414))) == 0


def test_every_page_of_a_copy_job_carries_the_uploaded_seal(session, world):
    seal.set_seal(session, _actor(world), blue_seal("PNG"))
    request = _apply(session, world, package="reimbursement")
    service.pay(session, _actor(world, "copy_clerk"), world.users["copy_clerk"], request, "cash")
    job = service.start_print(session, _actor(world, "copy_clerk"), world.users["copy_clerk"], request)
    session.commit()
    assert run_queued_jobs(session.get_bind()) == ["done"]
    session.expire_all()
    with open_blob_store(get_settings()).open(session.get(Job, job.id).result_sha256) as stream:
        pdf = stream.read()
    document = pypdfium2.PdfDocument(pdf)
    assert len(document) == 6
    for page in document:
        image = page.render(scale=2).to_pil()
        corner = image.crop((image.width // 2, image.height * 2 // 3, image.width, image.height))
        assert _blue_pixels(corner) > 1000 and _red_pixels(corner) > 100  # the seal and the red words
    document.close()
