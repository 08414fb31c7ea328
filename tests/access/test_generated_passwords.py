"""Passwords Bingan makes for first-run and demo accounts pass the policy for their own user."""
from __future__ import annotations

from bingan.access.passwords import generate_password, policy_problems


def test_a_generated_password_never_contains_a_short_user_name():
    passwords = [generate_password("qc") for _ in range(300)]
    assert not [p for p in passwords if "qc" in p.lower() or policy_problems(p, "qc")]
