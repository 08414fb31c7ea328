"""Fixtures of CA-service validation: a real OCSP responder and a CA validation service on loopback
(tests/peers/ocsp.py, tests/peers/ca_validation_api.py), and PDFs signed by certificates of its CA."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/peers as the "peers" package
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ingest"))  # ingest_support
sys.path.insert(0, str(Path(__file__).resolve().parent))  # ca_support

from peers.ca_validation_api import CaValidationApiPeer
from peers.ocsp import OcspPeer

from bingan.formats import guard


@pytest.fixture(scope="module", autouse=True)
def _no_pool_children_left():
    yield
    guard.close_shared_pool()


@pytest.fixture
def responder():
    """The test CA's OCSP responder, signing as the CA."""
    with OcspPeer() as peer:
        yield peer


@pytest.fixture
def validation_api(responder):
    """The CA vendor's validation service; it knows the responder's CA."""
    with CaValidationApiPeer("测试CA") as peer:
        yield peer
