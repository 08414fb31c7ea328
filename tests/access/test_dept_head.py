"""The head of department (科主任) as a built-in role: made by migration 0021 with the permissions of
ROLE_DEFAULTS, reading and approving within the department only, signing in with a second factor,
and named by the shipped flows' first step (科主任) for the records of that department."""
from __future__ import annotations

import sqlalchemy as sa
from world import PASSWORD

from bingan.access.accounts import create_user
from bingan.access.permissions import ADMINISTRATION, ROLE_DEFAULTS
from bingan.access.policy import decide
from bingan.access.sessions import needs_second_factor
from bingan.records.approvals.flows import resolve_approvers
from bingan.storage.models import Role

HEAD_STEP = {"name": "科室审核", "mode": "any", "approvers": [{"kind": "head"}], "hours": 24}


def test_the_migration_makes_the_built_in_role_with_its_chinese_name(session):
    role = session.scalars(sa.select(Role).where(Role.code == "dept_head")).one()
    assert (role.name, role.builtin) == ("科主任", True)
    assert sorted(role.permissions) == sorted(ROLE_DEFAULTS["dept_head"])


def test_a_head_holds_no_administration_and_no_hospital_wide_scope():
    held = set(ROLE_DEFAULTS["dept_head"])
    assert not held & ADMINISTRATION
    assert "scope.all_departments" not in held and "grants.manage" not in held


def test_a_head_approves_and_so_signs_in_with_a_second_factor(world):
    assert needs_second_factor(world.users["dept_head"])
    assert not needs_second_factor(world.users["clinician"])


def test_a_head_reads_and_approves_the_own_department_only(session, world):
    head = world.users["dept_head"]  # cardiology
    assert decide(session, head, "approve", world.records["normal"])
    assert not decide(session, head, "view", world.records["other_department"])
    assert not decide(session, head, "approve", world.records["other_department"])


def test_the_flows_head_step_names_the_head_of_the_records_department(session, world):
    respiratory_head = create_user(session, "u_head_resp", PASSWORD, ["dept_head"], full_name="呼吸内科主任",
                                   department_code="0302", must_change_password=False)
    session.flush()
    applicant = world.users["clinician"].id
    assert resolve_approvers(session, HEAD_STEP, world.records["other_department"], applicant) == [respiratory_head]
    assert world.users["dept_head"] in resolve_approvers(session, HEAD_STEP, world.records["normal"], applicant)
