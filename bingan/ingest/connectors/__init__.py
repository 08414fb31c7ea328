"""Connectors: how Bingan discovers and fetches documents from each kind of hospital system.

A pull connector implements ``discover`` (what changed since the cursor) and ``fetch``
(the bytes of one reported document). Push, folder and manual imports stage the bytes
themselves, so their items start at "fetched" and never call ``fetch``.
"""
from __future__ import annotations

from bingan.ingest.connectors.base import Connector, Discovery, NoFetch


def connector_for(transport: str) -> Connector:
    if transport == "http_pull":
        from bingan.ingest.connectors.http_pull import HttpPullConnector

        return HttpPullConnector()
    if transport == "ftp":
        from bingan.ingest.connectors.ftp import FtpConnector

        return FtpConnector()
    if transport == "soap":
        from bingan.ingest.connectors.soap import SoapConnector

        return SoapConnector()
    return NoFetch()


__all__ = ["Connector", "Discovery", "NoFetch", "connector_for"]
