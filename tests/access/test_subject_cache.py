"""A process keeps each user's access facts, the IP rules and the settings every request reads
under the access generation, and reads only the token, once per transaction; every change to what
a user may see — committed by any session, through the ORM or an ORM bulk statement — is honoured
by the very next load (SQLite and PostgreSQL)."""
from __future__ import annotations

import sqlalchemy as sa

from bingan.access.access_rules import add_ip_rule
from bingan.access.audit import Actor
from bingan.access.grants import revoke
from bingan.access.policy import ip_problem, load_subject
from bingan.access.security_settings import save_security_settings, security_settings
from bingan.storage import access_generation
from bingan.storage.db import session_factory
from bingan.storage.models import Grant, Record, Role, User, UserScope, utcnow


def other_session(session):
    """Another request (or process) committing its own change."""
    return session_factory(session.get_bind()).begin()


def clinician(session) -> User:
    return session.scalars(sa.select(User).where(User.username == "u_clinician")).one()


def statements_of(session, work) -> list[str]:
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_):
        seen.append(statement)

    sa.event.listen(session.get_bind(), "before_cursor_execute", note)
    try:
        work()
    finally:
        sa.event.remove(session.get_bind(), "before_cursor_execute", note)
    return seen


def test_a_second_load_without_changes_reads_only_the_token(session, world):
    session.commit()
    user = clinician(session)
    first = load_subject(session, user)
    session.rollback()
    user = clinician(session)  # a new transaction, as the next request is
    again = statements_of(session, lambda: load_subject(session, user))
    assert len(again) == 1 and "system_settings" in again[0]
    assert load_subject(session, user) == first


def test_the_token_is_read_once_per_transaction(session, world):
    session.commit()
    user = clinician(session)
    load_subject(session, user), ip_problem(session, "10.1.2.3"), security_settings(session)
    session.rollback()
    user = clinician(session)
    reads = statements_of(session, lambda: (load_subject(session, user), ip_problem(session, "10.1.2.3"),
                                            security_settings(session), load_subject(session, user)))
    assert len(reads) == 1


def test_an_ip_rule_added_by_another_session_refuses_at_the_next_request(session, world):
    session.commit()
    assert ip_problem(session, "10.9.9.9") is None
    with other_session(session) as other:
        add_ip_rule(other, Actor(None, "信息科"), "10.9.0.0/16", "block")
    session.rollback()
    assert "已被禁止访问" in ip_problem(session, "10.9.9.9")


def test_security_settings_saved_by_another_session_count_at_the_next_request(session, world):
    session.commit()
    assert security_settings(session).idle_minutes == 15
    with other_session(session) as other:
        changed = security_settings(other)
        changed.idle_minutes = 5
        save_security_settings(other, changed)
    session.rollback()
    assert security_settings(session).idle_minutes == 5


def test_the_kept_settings_are_a_copy_a_caller_may_change(session, world):
    session.commit()
    security_settings(session).idle_minutes = 1
    assert security_settings(session).idle_minutes == 15


def test_a_grant_revoked_by_another_session_closes_the_record_at_the_next_load(session, world):
    session.commit()
    granted = world.records["granted"].id
    assert granted in load_subject(session, clinician(session)).grants
    with other_session(session) as other:
        grant_id = other.scalars(sa.select(Grant.id).where(Grant.record_id == granted)).one()
        revoke(other, Actor(None, "病案室"), grant_id, "提前收回")
    session.rollback()
    assert granted not in load_subject(session, clinician(session)).grants


def test_a_permission_taken_from_a_role_is_gone_at_the_next_load(session, world):
    session.commit()
    assert "record.print" in load_subject(session, clinician(session)).permissions
    with other_session(session) as other:
        role = other.scalars(sa.select(Role).where(Role.code == "clinician")).one()
        role.permissions = [code for code in role.permissions if code != "record.print"]
    session.rollback()
    assert "record.print" not in load_subject(session, clinician(session)).permissions


def test_scopes_deleted_by_a_bulk_statement_are_gone_at_the_next_load(session, world):
    user = clinician(session)
    session.add(UserScope(user_id=user.id, kind="department", code="0302"))
    session.commit()
    assert "0302" in load_subject(session, clinician(session)).departments
    with other_session(session) as other:
        other.execute(sa.delete(UserScope).where(UserScope.user_id == user.id))
    session.rollback()
    assert "0302" not in load_subject(session, clinician(session)).departments


def test_a_role_given_to_the_user_counts_at_the_next_load(session, world):
    session.commit()
    assert "scope.all_departments" not in load_subject(session, clinician(session)).permissions
    with other_session(session) as other:
        user = other.get(User, clinician(session).id)
        user.roles.append(other.scalars(sa.select(Role).where(Role.code == "archivist")).one())
    session.rollback()
    assert load_subject(session, clinician(session)).all_departments


def test_changes_that_touch_no_access_fact_keep_the_token(session, world):
    session.commit()
    before = access_generation.current(session)
    with other_session(session) as other:
        other.get(User, clinician(session).id).last_login_at = utcnow()
        other.get(Record, world.records["normal"].id).attending_doctor = "王主任"
    session.rollback()
    assert access_generation.current(session) == before


def test_a_change_rolled_back_leaves_the_token_as_it_was(session, world):
    session.commit()
    before = access_generation.current(session)
    session.add(UserScope(user_id=clinician(session).id, kind="campus", code="main"))
    session.flush()
    assert access_generation.current(session) != before
    session.rollback()
    assert access_generation.current(session) == before


def test_a_grant_ended_with_plain_sql_counts_once_the_kept_facts_are_a_minute_old(session, world, monkeypatch):
    session.commit()
    granted = world.records["granted"].id
    assert granted in load_subject(session, clinician(session)).grants
    with session.get_bind().begin() as connection:  # a DBA's script: no ORM, no new token
        connection.execute(sa.text("UPDATE grants SET revoked_at = valid_from WHERE record_id = :id"), {"id": granted})
    session.rollback()
    assert granted in load_subject(session, clinician(session)).grants  # kept, as documented
    monkeypatch.setattr(access_generation, "MAX_AGE_SECONDS", 0)
    assert granted not in load_subject(session, clinician(session)).grants


def test_a_transaction_changes_the_token_once_however_often_it_flushes(session, world):
    session.commit()
    user = clinician(session)
    session.add(UserScope(user_id=user.id, kind="department", code="0302"))
    session.flush()
    token = access_generation.current(session)
    session.add(UserScope(user_id=user.id, kind="department", code="0303"))
    writes = statements_of(session, session.flush)
    assert not [statement for statement in writes if "system_settings" in statement]
    assert access_generation.current(session) == token


def test_what_a_changing_transaction_reads_is_not_kept_for_others(session, world):
    session.commit()
    user = clinician(session)
    session.add(UserScope(user_id=user.id, kind="department", code="0302"))
    session.flush()
    assert "0302" in load_subject(session, user).departments  # read after the first change …
    session.add(UserScope(user_id=user.id, kind="department", code="0303"))
    session.commit()  # … and a second change under the same token
    assert {"0302", "0303"} <= load_subject(session, clinician(session)).departments


def test_a_savepoint_rolled_back_takes_its_token_with_it(session, world):
    session.commit()
    user = clinician(session)
    before = access_generation.current(session)
    with session.begin_nested() as savepoint:
        session.add(UserScope(user_id=user.id, kind="campus", code="main"))
        session.flush()
        savepoint.rollback()
    assert access_generation.current(session) == before
    session.add(UserScope(user_id=user.id, kind="department", code="0302"))
    session.flush()
    assert access_generation.current(session) != before
