"""Fixtures of the notices specification: the QC hospital (tests/records/qc/conftest.py) with its
doctors bound to WeCom and DingTalk, and the WeCom, DingTalk and webhook peers served on loopback."""
from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/peers as the "peers" package

from peers.dingtalk import DingTalkState
from peers.dingtalk import make_app as dingtalk_app
from peers.loopback import Served
from peers.webhook import WebhookState
from peers.webhook import make_app as webhook_app
from peers.wecom import WeComState
from peers.wecom import make_app as wecom_app

_spec = importlib.util.spec_from_file_location("qc_fixtures", Path(__file__).parents[1] / "qc" / "conftest.py")
qc_fixtures = importlib.util.module_from_spec(_spec)
sys.modules["qc_fixtures"] = qc_fixtures  # the tests take submitted_record from it
_spec.loader.exec_module(qc_fixtures)
world = qc_fixtures.world
submitted_record = qc_fixtures.submitted_record


@pytest.fixture(scope="module")
def wecom() -> Iterator[tuple[WeComState, str]]:
    state = WeComState()
    with Served(wecom_app(state)) as url:
        yield state, url


@pytest.fixture(scope="module")
def dingtalk() -> Iterator[tuple[DingTalkState, str]]:
    state = DingTalkState()
    with Served(dingtalk_app(state)) as url:
        yield state, url


@pytest.fixture(scope="module")
def webhook() -> Iterator[tuple[WebhookState, str]]:
    state = WebhookState()
    with Served(webhook_app(state)) as url:
        yield state, url


@pytest.fixture(autouse=True)
def _fresh_peers(wecom, dingtalk, webhook) -> None:
    for state, _url in (wecom, dingtalk, webhook):
        state.__init__()
