"""OpenID Connect sign-on (统一身份认证): authorization code with PKCE (RFC 7636), by Authlib.

The provider is found by discovery (``ISSUER/.well-known/openid-configuration``); the id_token is
checked by joserfc against the provider's JWKS (signature, issuer, audience, expiry, nonce). What
travels between the redirect and the callback (state, nonce, code verifier) is kept by the caller
in a signed cookie: this module holds no state of its own but a short discovery cache.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

import httpx
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from bingan.access.sessions import LoginRefused
from bingan.access.sso.identities import Asserted
from bingan.config import Settings

TIMEOUT = 10.0
DISCOVERY_SECONDS = 600  # the provider's endpoints and keys are re-read this often (key rotation)
SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
_discovered: dict[str, tuple[float, dict, KeySet]] = {}


@dataclass(frozen=True)
class SignedOn:
    asserted: Asserted
    amr: list[str] = field(default_factory=list)


def start(settings: Settings, redirect_uri: str) -> tuple[str, dict]:
    """The provider's authorization URL and what the callback must find again (kept by the caller)."""
    metadata, _ = _provider(settings)
    pending = {"state": secrets.token_urlsafe(24), "nonce": secrets.token_urlsafe(24),
               "verifier": secrets.token_urlsafe(48)}
    with _client(settings, redirect_uri) as client:
        url, _ = client.create_authorization_url(metadata["authorization_endpoint"], state=pending["state"],
                                                 nonce=pending["nonce"], code_verifier=pending["verifier"])
    return url, pending


def finish(settings: Settings, redirect_uri: str, pending: dict, params: dict[str, str]) -> SignedOn:
    """Exchange the code and check the id_token; LoginRefused with the reason when anything is off."""
    if params.get("error"):
        raise LoginRefused(f"统一身份认证未通过：{params.get('error_description') or params['error']}")
    if not params.get("code") or not secrets.compare_digest(params.get("state", ""), pending.get("state", "")):
        raise LoginRefused("统一身份认证的回调与本次登录不符（可能已过期），请重新登录")
    metadata, keys = _provider(settings)
    try:
        with _client(settings, redirect_uri) as client:
            token = client.fetch_token(metadata["token_endpoint"], code=params["code"],
                                       code_verifier=pending["verifier"])
    except Exception as error:  # the provider refused the code, or could not be reached
        raise LoginRefused(f"统一身份认证服务拒绝了本次登录或无法连接：{_short(error)}") from error
    claims = _id_token_claims(settings, metadata, keys, token.get("id_token", ""), pending["nonce"])
    return SignedOn(_asserted(settings, metadata["issuer"], claims), list(claims.get("amr") or []))


def logout_url(settings: Settings, post_logout_redirect_uri: str) -> str | None:
    """Where the browser ends the provider's session too (RP-initiated logout), when it offers that."""
    try:
        metadata, _ = _provider(settings)
    except LoginRefused:
        return None  # the provider is down: Bingan's own session still ends
    endpoint = metadata.get("end_session_endpoint")
    if not endpoint:
        return None
    query = httpx.QueryParams({"client_id": settings.oidc_client_id,
                               "post_logout_redirect_uri": post_logout_redirect_uri})
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def second_factor_asserted(settings: Settings, amr: list[str]) -> bool:
    """The provider says it asked for more than a password (amr, RFC 8176) in one of the accepted ways."""
    accepted = {value.strip() for value in settings.sso_mfa_amr.split(",") if value.strip()}
    return bool(accepted & set(amr))


def _client(settings: Settings, redirect_uri: str) -> OAuth2Session:
    method = "client_secret_basic" if settings.oidc_client_secret else "none"
    return OAuth2Session(client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret or None,
                        token_endpoint_auth_method=method, scope=settings.oidc_scopes, redirect_uri=redirect_uri,
                        code_challenge_method="S256", default_timeout=TIMEOUT)


def _provider(settings: Settings) -> tuple[dict, KeySet]:
    issuer = settings.oidc_issuer.rstrip("/")
    cached = _discovered.get(issuer)
    if cached and cached[0] > time.monotonic():
        return cached[1], cached[2]
    try:
        metadata = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=TIMEOUT).raise_for_status().json()
        keys = KeySet.import_key_set(httpx.get(metadata["jwks_uri"], timeout=TIMEOUT).raise_for_status().json())
    except Exception as error:
        raise LoginRefused(f"无法连接统一身份认证服务（{issuer}）：{_short(error)}") from error
    _discovered[issuer] = (time.monotonic() + DISCOVERY_SECONDS, metadata, keys)
    return metadata, keys


def _id_token_claims(settings: Settings, metadata: dict, keys: KeySet, id_token: str, nonce: str) -> dict:
    try:
        token = jwt.decode(id_token, keys, algorithms=SIGNING_ALGORITHMS)
        jwt.JWTClaimsRegistry(
            leeway=60, iss={"essential": True, "value": metadata["issuer"]},
            aud={"essential": True, "value": settings.oidc_client_id}, exp={"essential": True},
            sub={"essential": True}, nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except (JoseError, ValueError) as error:
        raise LoginRefused(f"统一身份认证返回的身份令牌无效：{_short(error)}") from error
    return token.claims


def _asserted(settings: Settings, issuer: str, claims: dict) -> Asserted:
    return Asserted(kind="oidc", subject=f"{issuer}|{claims['sub']}",
                    staff_number=str(claims.get(settings.sso_staff_claim) or ""),
                    full_name=str(claims.get(settings.sso_name_claim) or ""))


def _short(error: Exception) -> str:
    return (str(error) or type(error).__name__)[:200]
