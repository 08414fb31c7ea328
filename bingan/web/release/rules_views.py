"""The copy-rules page (复印规则, copy.manage): packages (categories and copies), applicant types
with their papers, the copyable categories (art. 19), the fees in yuan (kept in fen), stage
copying (art. 21), the card-reader address and the hospital's seal image. Every change goes
through records/release/rules.py or seal.py, which check it in full and audit it."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bingan.errors import NotFound
from bingan.records.release import rules, seal
from bingan.web import navigation
from bingan.web.deps import Ctx, permission
from bingan.web.errors import back_on_refusal
from bingan.web.render import page

router = APIRouter(include_in_schema=False)
RULES = "/copy-rules"
navigation.register("复印打印", "复印规则", RULES, "copy.manage")
BACK = [back_on_refusal(RULES)]


@router.get(RULES, response_class=HTMLResponse)
def rules_page(request: Request, ctx: Ctx = permission("copy.manage")) -> Response:
    current = rules.copy_rules(ctx.session)
    names = rules.category_names(ctx.session)
    return page(request, "release/rules.html", ctx, current=current, fees=current.fees, yuan=rules.yuan,
                fee_names=rules.FEE_NAMES, names=names, copyable=rules.copyable_categories(ctx.session),
                packages=rules.packages(ctx.session, active_only=False),
                kinds=rules.applicant_types(ctx.session, active_only=False), seal=seal.seal_info(ctx.session),
                seal_rule=seal.RULE, error=request.query_params.get("error", ""),
                message=request.query_params.get("message", ""))


@router.post(RULES + "/fees", dependencies=BACK)
def save_fees(page_yuan: str = Form("0", max_length=12), copy_yuan: str = Form("0", max_length=12),
              retrieval_yuan: str = Form("0", max_length=12), stage_yuan: str = Form("0", max_length=12),
              free_categories: list[str] = Form([]), stage_copying: str = Form(""), kiosk_typed_entry: str = Form(""),
              card_reader_url: str = Form(rules.DEFAULT_READER, max_length=200),
              ctx: Ctx = permission("copy.manage")) -> Response:
    fees = rules.FeeRules(
        page_fen=rules.parse_yuan(page_yuan, rules.FEE_NAMES["page_fen"]),
        copy_fen=rules.parse_yuan(copy_yuan, rules.FEE_NAMES["copy_fen"]),
        retrieval_fen=rules.parse_yuan(retrieval_yuan, rules.FEE_NAMES["retrieval_fen"]),
        stage_fen=rules.parse_yuan(stage_yuan, rules.FEE_NAMES["stage_fen"]),
        free_categories=tuple(sorted(set(free_categories))))
    rules.save_copy_rules(ctx.session, ctx.actor, rules.CopyRules(fees, stage_copying == "on", card_reader_url.strip(),
                                                                  kiosk_typed_entry == "on"))
    return _done("收费标准与复印设置已保存")


@router.post(RULES + "/copyable", dependencies=BACK)
def save_copyable(categories: list[str] = Form([]), ctx: Ctx = permission("copy.manage")) -> Response:
    rules.set_copyable_categories(ctx.session, ctx.actor, categories)
    return _done("可复印分类已保存")


@router.post(RULES + "/packages", dependencies=BACK)
def save_package(code: str = Form(..., max_length=32), name: str = Form(..., max_length=100),
                 categories: list[str] = Form([]), copies: int = Form(1, ge=1, le=20), active: str = Form(""),
                 ctx: Ctx = permission("copy.manage")) -> Response:
    package = rules.save_package(ctx.session, ctx.actor, code, name, categories, copies, active == "on")
    return _done(f"套餐“{package.name}”已保存")


@router.post(RULES + "/applicant-types/{code}", dependencies=BACK)
def save_applicant_type(code: str, papers: str = Form("", max_length=2000), free: str = Form(""),
                        outside: str = Form(""), ctx: Ctx = permission("copy.manage")) -> Response:
    kind = rules.set_applicant_type(ctx.session, ctx.actor, code[:32], free=free == "on", outside=outside == "on",
                                    papers=papers.splitlines())
    return _done(f"申请人类型“{kind.name}”已保存")


@router.post(RULES + "/seal", dependencies=BACK)
def upload_seal(file: UploadFile = File(...), ctx: Ctx = permission("copy.manage")) -> Response:
    seal.set_seal(ctx.session, ctx.actor, file.file.read(seal.MAX_SEAL_BYTES + 1))
    return _done("医院印章图片已上传，此后生成的复印件使用该印章")


@router.post(RULES + "/seal/remove", dependencies=BACK)
def remove_seal(ctx: Ctx = permission("copy.manage")) -> Response:
    seal.remove_seal(ctx.session, ctx.actor)
    return _done("已删除印章图片，复印件改用系统绘制的印章")


@router.get(RULES + "/seal.img")
def seal_image(ctx: Ctx = permission("copy.manage")) -> Response:
    stored = seal.seal_bytes(ctx.session)
    if stored is None:
        raise NotFound("尚未上传印章图片")
    return Response(stored[0], media_type=stored[1], headers={"Cache-Control": "private, no-store"})


def _done(message: str) -> Response:
    return RedirectResponse(f"{RULES}?message={quote(message)}", status_code=303)
