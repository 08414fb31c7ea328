"""The administrator's first page says what to do next under 三员分立; readers do not get that card."""
from __future__ import annotations


def next_steps(client) -> str:
    page = client.get("/?home=1")
    assert page.status_code == 200
    text = page.text
    return text[text.index('id="next-steps"'):text.index("</section>", text.index('id="next-steps"'))]


def test_system_administrator_is_told_that_the_security_administrator_creates_users(client_for):
    card = next_steps(client_for("sysadmin"))
    assert "三员分立" in card and "安全管理员" in card and 'href="/admin/appearance"' in card
    assert "临床医生" in card and "病案室" in card  # who reads records
    assert 'href="/admin/users"' not in card  # not his job


def test_security_administrator_is_led_to_creating_users_and_roles(client_for):
    card = next_steps(client_for("secadmin"))
    assert 'href="/admin/users"' in card and 'href="/admin/roles"' in card and 'href="/admin/appearance"' not in card


def test_auditor_is_led_to_the_audit_log(client_for):
    assert 'href="/admin/audit"' in next_steps(client_for("auditor"))


def test_a_clinician_gets_no_administration_card(client_for):
    assert 'id="next-steps"' not in client_for("clinician").get("/?home=1").text
