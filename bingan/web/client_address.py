"""Who is connecting: the client address the gate, the audit trail and the watermarks use.

Anyone can send ``X-Forwarded-For``; it is believed only from the reverse proxies the hospital
names in BINGAN_TRUSTED_PROXIES (none by default). Behind them the client is the right-most
address the trusted proxies did not add themselves: everything left of it was written by the
client and proves nothing. Addresses are stored in one canonical form (``bingan.access.addresses``).
"""
from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from bingan.access.addresses import Network, canonical_address, inside, parse_address, parse_networks


class ClientAddress:
    """Sets ``scope["client"]`` (and the scheme a trusted TLS proxy reports) before any route runs."""

    def __init__(self, app: ASGIApp, trusted_proxies: str) -> None:
        self.app = app
        self.trusted = parse_networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = resolved(scope, self.trusted)
        await self.app(scope, receive, send)


def resolved(scope: Scope, trusted: tuple[Network, ...]) -> Scope:
    peer, port = scope.get("client") or ("", 0)
    if not _trusted(peer, trusted):
        return {**scope, "client": (canonical_address(peer), port)}
    headers = Headers(scope=scope)
    client = forwarded_client(headers.getlist("x-forwarded-for"), trusted) or peer
    # The proxy's word (a client certificate header, bingan.web.auth.sso) may be believed on this request.
    changed = {**scope, "client": (canonical_address(client), 0), "bingan.via_trusted_proxy": True}
    scheme = _last(headers.getlist("x-forwarded-proto")).lower()
    if scheme in ("http", "https"):
        changed["scheme"] = scheme
    return changed


def forwarded_client(values: list[str], trusted: tuple[Network, ...]) -> str:
    """The right-most hop that is not a trusted proxy; an unreadable hop is the client (it fails the rules)."""
    hops = [hop.strip() for value in values for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else ""


def _trusted(host: str, trusted: tuple[Network, ...]) -> bool:
    return bool(trusted) and inside(parse_address(host), trusted)


def _last(values: list[str]) -> str:
    hops = [hop.strip() for value in values for hop in value.split(",") if hop.strip()]
    return hops[-1] if hops else ""
