"""Error answers in Chinese: JSON ``{"detail": "…"}`` for the API, the error page for the browser.

FastAPI and Starlette answer bad input in English (pydantic's "Field required", "There was an
error parsing the body", "Not Found"); hospital staff and the integrators of hospital systems
read Chinese, so every refusal is translated here: which field, and why.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bingan.errors import Refusal

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bingan.web.deps import Ctx

log = logging.getLogger(__name__)
CHINESE = re.compile(r"[\u4e00-\u9fff]")
MAX_LISTED = 5  # problems named in ``detail``; all of them are in ``errors``

PLACES = {"body": "请求体", "query": "查询参数", "path": "路径参数", "header": "请求头", "cookie": "Cookie"}
STATUS_MESSAGES = {
    400: "请求格式不正确，无法解析请求内容",
    401: "请先登录",
    403: "没有访问权限",
    404: "找不到请求的页面或接口",
    405: "不支持该请求方法",
    406: "无法提供所要求的内容格式",
    413: "请求内容过大",
    415: "不支持的内容类型",
    422: "请求参数不正确",
    429: "请求过于频繁，请稍后再试",
}
# pydantic error type -> reason; {name} fields come from the error's ctx.
REASONS = {
    "missing": "缺少必填项",
    "json_invalid": "不是合法的 JSON（{error}）",
    "json_type": "应为 JSON",
    "model_attributes_type": "应为 JSON 对象",
    "dict_type": "应为 JSON 对象",
    "model_type": "应为 JSON 对象",
    "list_type": "应为列表（JSON 数组）",
    "string_type": "应为文本",
    "string_unicode": "应为 UTF-8 文本",
    "string_too_short": "至少{min_length}个字符",
    "string_too_long": "不能超过{max_length}个字符",
    "string_pattern_mismatch": "格式不正确",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_parsing_size": "数值过大",
    "int_from_float": "应为整数，不能带小数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "finite_number": "应为有限的数字",
    "bool_type": "应为布尔值（true 或 false）",
    "bool_parsing": "应为布尔值（true 或 false）",
    "greater_than": "应大于{gt}",
    "greater_than_equal": "不能小于{ge}",
    "less_than": "应小于{lt}",
    "less_than_equal": "不能大于{le}",
    "too_short": "至少{min_length}项",
    "too_long": "最多{max_length}项",
    "datetime_type": "应为日期时间（ISO 8601，如 2026-03-01T09:30:00+08:00）",
    "datetime_parsing": "应为日期时间（ISO 8601，如 2026-03-01T09:30:00+08:00）",
    "datetime_from_date_parsing": "应为日期时间（ISO 8601，如 2026-03-01T09:30:00+08:00）",
    "datetime_object_invalid": "日期时间超出范围",
    "date_type": "应为日期（如 2026-03-01）",
    "date_parsing": "应为日期（如 2026-03-01）",
    "date_from_datetime_parsing": "应为日期（如 2026-03-01）",
    "literal_error": "取值应为：{expected}",
    "enum": "取值应为：{expected}",
    "extra_forbidden": "不允许的字段",
    "bytes_type": "应为文件或文本",
    "value_error": "{error}",
}
# FastAPI's own value errors, in English: the start of the message -> reason.
VALUE_ERRORS = {"Expected UploadFile": "应为上传的文件（multipart 中带 filename 的部分）"}


def field_label(loc: Sequence[Any]) -> str:
    """("body", "roles", 2) -> "请求体 roles[2]"; a whole-body problem is just "请求体"."""
    place = PLACES.get(str(loc[0]), str(loc[0])) if loc else "请求"
    name = ""
    for part in loc[1:]:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return f"{place} {name}" if name else place


def reason(error: dict[str, Any]) -> str:
    template = REASONS.get(error.get("type", ""), "取值无效")
    context = {key: str(value) for key, value in (error.get("ctx") or {}).items()}
    for start, text in VALUE_ERRORS.items():
        if context.get("error", "").startswith(start):
            return text
    try:
        text = template.format(**context)
    except (KeyError, IndexError):
        text = "取值无效"
    return text if CHINESE.search(text) else "取值无效"


def validation_problems(exc: RequestValidationError) -> list[dict[str, str]]:
    """Field and reason of each problem; the input itself is never echoed (it may be huge or hostile)."""
    return [{"field": field_label(error.get("loc", ())), "message": reason(error)} for error in exc.errors()]


def validation_detail(problems: list[dict[str, str]]) -> str:
    listed = "；".join(f"{p['field']}：{p['message']}" for p in problems[:MAX_LISTED])
    more = f"；另有{len(problems) - MAX_LISTED}处问题" if len(problems) > MAX_LISTED else ""
    return f"请求参数有误：{listed}{more}"


def chinese_detail(status_code: int, detail: Any) -> Any:
    """Our own refusals are Chinese already; the framework's English ones get the status's message."""
    if not isinstance(detail, str) or CHINESE.search(detail):
        return detail
    return STATUS_MESSAGES.get(status_code, f"请求无法处理（HTTP {status_code}）")


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.headers.get("accept", "").startswith("application/json")


def error_page(request: Request, status_code: int, message: str, *, with_database: bool = True) -> Response:
    from bingan.storage.db import session_factory
    from bingan.web.render import page

    if not with_database:
        return page(request, "error.html", None, status_code=status_code, message=message)
    # The request's session is closed (and its objects expired) by now: use a fresh one.
    with session_factory(request.app.state.engine)() as session:
        ctx = _signed_in(request, session)
        return page(request, "error.html", ctx, status_code=status_code, session=session, message=message)


def _signed_in(request: Request, session: Session) -> Ctx | None:
    """The signed-in user, read again, so the error page (a refusal, an unknown address) keeps their
    menu; None for visitors, sessions still owing a step, and addresses the rules refuse."""
    from bingan.access.policy import ip_problem
    from bingan.access.sessions import find_session
    from bingan.web.deps import Ctx, client_ip, pending_stage
    from bingan.web.security import SESSION_COOKIE

    web_session = find_session(session, request.cookies.get(SESSION_COOKIE))
    if web_session is None:
        return None
    ctx = Ctx(web_session.user, web_session, client_ip(request), session)
    if pending_stage(ctx) or ip_problem(session, ctx.ip):
        return None
    return ctx


def answer(request: Request, status_code: int, detail: Any, *, with_database: bool = True, **extra: Any) -> Response:
    if wants_json(request) or request.headers.get("hx-request"):
        return JSONResponse({"detail": detail, **extra}, status_code=status_code)
    return error_page(request, status_code, str(detail), with_database=with_database)


def back_on_refusal(path: str) -> Any:
    """For a form's POST route: a refusal sends the browser back to the form's page (``path``, its
    {placeholders} filled from the route's path) with ``?error=`` for the page to show; nothing was
    changed. The API and htmx still get the JSON answer."""
    def remember(request: Request) -> None:
        request.state.refused_back = path.format(**request.path_params)
    return Depends(remember)


def back_to_form(request: Request, message: str) -> Response | None:
    back = getattr(request.state, "refused_back", None)
    if back is None or wants_json(request) or request.headers.get("hx-request"):
        return None
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}error={quote(message)}", status_code=303)


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = answer(request, exc.status_code, chinese_detail(exc.status_code, exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = validation_problems(exc)
        return answer(request, 422, validation_detail(problems), errors=problems)

    @app.exception_handler(Refusal)
    def refused(request: Request, exc: Refusal) -> Response:
        # The request's transaction was rolled back by the session dependency: nothing changed.
        return back_to_form(request, exc.message) or answer(request, exc.status, exc.message)

    @app.exception_handler(DataError)
    def data_error(request: Request, exc: DataError) -> Response:
        # The request's transaction was rolled back by the session dependency before we got here.
        log.warning("input the database refused on %s %s: %s", request.method, request.url.path, exc.orig)
        return answer(request, 422, "输入的内容过长、数值超出范围或含有数据库不接受的字符，未做任何修改")

    @app.exception_handler(IntegrityError)
    def conflict(request: Request, exc: IntegrityError) -> Response:
        log.warning("conflicting write on %s %s: %s", request.method, request.url.path, exc.orig)
        return answer(request, 409, "与已有数据冲突（例如编号或名称重复），未做任何修改")

    @app.exception_handler(Exception)
    def server_error(request: Request, exc: Exception) -> Response:
        # Still logged and re-raised by Starlette; the caller gets Chinese instead of "Internal Server Error".
        return answer(request, 500, "服务器内部错误，请稍后重试或联系系统管理员", with_database=False)
