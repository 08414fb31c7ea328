"""Per-action rules as data (ACTION_RULES) through the gate: department scope, sealed, grants."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bingan.access.permissions import ACTION_RULES, GRANTABLE, PERMISSIONS
from bingan.access.policy import decide
from bingan.storage.models import Grant, utcnow

# (role, record state, action) -> "" when allowed, else a word of the Chinese refusal.
SPECIFICATION = [
    ("clinician", "other_department", "view", "科室数据范围"),
    ("clinician", "other_department", "apply_borrow", ""),  # applying needs no department scope
    ("clinician", "confidential", "apply_borrow", ""),  # …nor the confidentiality level: the flow decides
    ("clinician", "restricted_tag", "apply_borrow", ""),
    ("clinician", "sealed", "apply_borrow", "封存"),
    ("nurse", "normal", "apply_borrow", "申请借阅"),  # the role lacks borrow.apply
    ("clinician", "sealed", "apply_unseal", "申请解封"),  # the role lacks seal.apply
    ("medical_affairs", "sealed", "apply_unseal", ""),  # allowed while sealed
    ("medical_affairs", "normal", "apply_seal", ""),
    ("medical_affairs", "sealed", "apply_seal", "封存"),
    ("medical_affairs", "sealed", "view", "封存"),
    ("medical_affairs", "sealed", "seal_list", ""),
    ("medical_affairs", "sealed", "seal_export", ""),
    ("archivist", "sealed", "seal_export", "导出封存件"),  # only a seal manager
    ("archivist", "sealed", "print", "封存"),
    ("clinician", "granted", "view", ""),  # through the grant, outside the clinician's department
    ("clinician", "granted", "print", ""),
    ("clinician", "granted", "download", "下载"),  # not granted, and not the role's
    ("clinician", "normal", "tag", ""),
    ("clinician", "normal", "no_such_action", "未知"),
]


@pytest.mark.parametrize(("role", "state", "action", "refusal"), SPECIFICATION,
                         ids=[f"{r}-{s}-{a}" for r, s, a, _ in SPECIFICATION])
def test_the_gate_follows_the_action_rules(session, world, role, state, action, refusal):
    decision = decide(session, world.users[role], action, world.records[state])
    assert decision.allowed == (refusal == ""), decision.reason_zh
    assert refusal in decision.reason_zh


def test_a_grant_gives_only_grantable_actions(session, world):
    nurse, record = world.users["nurse"], world.records["other_department"]
    session.add(Grant(user_id=nurse.id, record_id=record.id, actions=["view", "change", "apply_borrow"],
                      valid_until=utcnow() + timedelta(days=1), reason="会诊"))
    session.flush()
    assert decide(session, nurse, "view", record)
    assert not decide(session, nurse, "change", record)
    assert not decide(session, nurse, "apply_borrow", record)


def test_every_rule_names_a_known_permission_and_the_grantable_actions_are_the_readers():
    assert all(rule.permission in PERMISSIONS for rule in ACTION_RULES.values())
    assert set(GRANTABLE) == {"view", "download", "print", "export"}
    assert {action for action, rule in ACTION_RULES.items() if rule.while_sealed} == {
        "apply_unseal", "seal_list", "seal_export"}
