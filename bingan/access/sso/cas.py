"""CAS sign-on (统一身份认证, CAS protocol 2.0/3.0): the browser brings a service ticket back, which
is validated once at the CAS server's /serviceValidate (2.0) or /p3/serviceValidate (3.0, with
attributes); the XML answer names the user (cas:user) and, in 3.0, their attributes."""
from __future__ import annotations

from xml.etree.ElementTree import Element

import httpx
from defusedxml.ElementTree import fromstring

from bingan.access.sessions import LoginRefused
from bingan.access.sso.identities import Asserted
from bingan.config import Settings

CAS = "{http://www.yale.edu/tp/cas}"
TIMEOUT = 10.0


def login_url(settings: Settings, service: str) -> str:
    return f"{_base(settings)}/login?{httpx.QueryParams({'service': service})}"


def logout_url(settings: Settings, service: str) -> str:
    """Ends the CAS single sign-on session too, then CAS sends the browser back to ``service``."""
    return f"{_base(settings)}/logout?{httpx.QueryParams({'service': service})}"


def validate(settings: Settings, service: str, ticket: str) -> Asserted:
    """Who the ticket says signed in; LoginRefused with the CAS server's reason otherwise."""
    if not ticket:
        raise LoginRefused("统一身份认证未返回票据，请重新登录")
    path = "/p3/serviceValidate" if settings.cas_version == "3" else "/serviceValidate"
    try:
        answer = httpx.get(f"{_base(settings)}{path}", params={"service": service, "ticket": ticket},
                           timeout=TIMEOUT).raise_for_status()
        root = fromstring(answer.content)
    except Exception as error:  # unreachable, an HTTP error or not XML
        raise LoginRefused(f"无法向统一身份认证服务验证票据：{str(error)[:200]}") from error
    return _asserted(settings, root)


def _asserted(settings: Settings, root: Element) -> Asserted:
    success = root.find(f"{CAS}authenticationSuccess")
    if success is None:
        failure = root.find(f"{CAS}authenticationFailure")
        reason = (failure.text or "").strip() if failure is not None else "应答格式不正确"
        code = failure.get("code", "") if failure is not None else ""
        raise LoginRefused(f"统一身份认证票据无效（{code}）：{reason}"[:300])
    user = (success.findtext(f"{CAS}user") or "").strip()
    if not user:
        raise LoginRefused("统一身份认证应答中没有用户名")
    attributes = _attributes(success)
    staff = user if settings.sso_staff_claim == "user" else attributes.get(settings.sso_staff_claim, "")
    return Asserted(kind="cas", subject=user, staff_number=staff, full_name=attributes.get(settings.sso_name_claim, ""))


def _attributes(success: Element) -> dict[str, str]:
    """The first value of each attribute (a multi-valued attribute repeats its element)."""
    block = success.find(f"{CAS}attributes")
    found: dict[str, str] = {}
    for element in block if block is not None else []:
        found.setdefault(element.tag.removeprefix(CAS), (element.text or "").strip())
    return found


def _base(settings: Settings) -> str:
    return settings.cas_url.rstrip("/")
