"""Helpers of the approval engine's specification tests."""
from __future__ import annotations

from bingan.access.audit import Actor


def actor(user) -> Actor:
    return Actor.of(user, "10.0.0.8")
