"""The issuer certificate a signature left out, fetched from the address the certificate gives for
it (Authority Information Access, id-ad-caIssuers; RFC 5280 §4.2.2.1): an OCSP question names the
certificate by its issuer's key and the answer is signed by that issuer, so without it nothing can
be asked. Reports from the EMR often carry only the signer's certificate, and the hospital's
trusted list (BINGAN_SIGNATURE_TRUST_ROOTS) only the CA's root, not the intermediate that issued it.

Fetched only to build the chain, never to trust: a fetched certificate is used when it really
issued the one below it (its signature is checked) and the chain it starts reaches a configured
root within a few steps — fetching further caIssuers addresses where needed. DER, PEM or a
certs-only PKCS #7 bundle (.p7c, what RFC 5280 names for HTTP), at most 64 KiB, each fetch within
the check's timeout. What was fetched is kept in this process by address (certificates do not
change at an address; it is needed again for each document, for the OCSP answer cache's key).
"""
from __future__ import annotations

from collections import OrderedDict

import httpx
from asn1crypto import cms, pem
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from bingan.formats.ofd import certs
from bingan.records.ca_validation import ocsp

MAX_BYTES = 64 * 1024
MAX_STEPS = 4  # intermediates between the signer and a root; real chains have one or two
_fetched: OrderedDict[str, tuple[bytes, ...]] = OrderedDict()
KEEP = 128
NO_ROOT = "按 caIssuers 地址取得的签发机构证书不能链到受信任的根证书（BINGAN_SIGNATURE_TRUST_ROOTS），不予使用"


def ca_issuers_url(cert_der: bytes) -> str:
    """The certificate's first http(s) caIssuers address, or ""."""
    try:
        access = x509.load_der_x509_certificate(cert_der).extensions.get_extension_for_class(
            x509.AuthorityInformationAccess).value
    except (ValueError, x509.ExtensionNotFound):
        return ""
    urls = [a.access_location.value for a in access
            if a.access_method == AuthorityInformationAccessOID.CA_ISSUERS
            and isinstance(a.access_location, x509.UniformResourceIdentifier)]
    return next((u for u in urls if u.startswith(("http://", "https://"))), "")


def fetched_issuer(cert_der: bytes, carried: tuple[bytes, ...], anchors: tuple[bytes, ...], *,
                   timeout: float) -> tuple[bytes | None, str]:
    """(the issuer of ``cert_der``, "") — found among ``carried`` (the signature's certificates)
    and ``anchors`` (the configured roots) or fetched — when its chain reaches an anchor; else
    (None, why not, in Chinese)."""
    issuer, current = None, cert_der
    for _ in range(MAX_STEPS):
        above = _issuer_among(current, carried + anchors)
        if above is None:
            above, problem = _download_issuer(current, timeout)
            if above is None:
                return None, problem if issuer is None else NO_ROOT
        issuer = issuer or above
        if above in anchors or _issuer_among(above, anchors) is not None:
            return issuer, ""
        if certs.issued_by(above, above):
            break  # a root the hospital has not configured
        current = above
    return None, NO_ROOT


def _issuer_among(cert_der: bytes, candidates: tuple[bytes, ...]) -> bytes | None:
    return next((c for c in candidates if c != cert_der and certs.issued_by(cert_der, c)), None)


def _download_issuer(cert_der: bytes, timeout: float) -> tuple[bytes | None, str]:
    url = ca_issuers_url(cert_der)
    if not url:
        return None, "证书未注明签发机构证书的下载地址（caIssuers）"
    found = _fetched.get(url)
    if found is None:
        found, problem = _download(url, timeout)
        if found is None:
            return None, problem
        _fetched[url] = found
        while len(_fetched) > KEEP:
            _fetched.popitem(last=False)
    issuer = _issuer_among(cert_der, found)
    if issuer is None:
        return None, f"caIssuers 地址（{url}）提供的证书不是本证书的签发机构证书"
    return issuer, ""


def _download(url: str, timeout: float) -> tuple[tuple[bytes, ...] | None, str]:
    try:
        with ocsp.client().stream("GET", url, timeout=timeout) as reply:
            if reply.status_code != 200:
                return None, f"下载签发机构证书失败（{url} 返回 HTTP {reply.status_code}）"
            body = b""
            for chunk in reply.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    return None, f"签发机构证书下载内容过大（{url}），不予使用"
    except httpx.TimeoutException:
        return None, f"下载签发机构证书超时（{url}，{timeout:g} 秒）"
    except httpx.HTTPError:
        return None, f"无法下载签发机构证书（{url}）"
    found = parse(body)
    return (found, "") if found else (None, f"caIssuers 地址（{url}）提供的不是证书（应为 DER、PEM 或 PKCS #7）")


def parse(body: bytes) -> tuple[bytes, ...]:
    """The certificates in a caIssuers body: PEM, one DER certificate or a certs-only PKCS #7."""
    try:
        if pem.detect(body):
            return tuple(der for kind, _, der in pem.unarmor(body, multiple=True) if kind == "CERTIFICATE")
        if certs.load(body) is not None:
            return (body,)
        info = cms.ContentInfo.load(body, strict=True)
        if info["content_type"].native != "signed_data":
            return ()
        return tuple(c.chosen.dump() for c in info["content"]["certificates"] if c.name == "certificate")
    except (ValueError, TypeError, KeyError):
        return ()
