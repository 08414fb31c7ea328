"""A refusal's HTTP status comes from its class: 400 for a refused request, 409 for a state
conflict, 404 for a number that names nothing (申请不存在); the page answers with the same status."""
from __future__ import annotations

from bingan.errors import Conflict, NotFound, Refusal


def _api(client, method: str, url: str, **json):
    token = client.get("/api/v1/me").json()["csrf_token"]
    return client.request(method, url, json=json or None, headers={"X-CSRF-Token": token})


def test_each_kind_of_refusal_carries_its_status():
    assert (Refusal("不行").status, Conflict("已撤回").status, NotFound("申请不存在").status) == (400, 409, 404)


def test_an_unknown_approval_is_a_404_in_chinese(client_for):
    response = client_for("qc").get("/api/v1/approvals/987654")
    assert response.status_code == 404 and response.json()["detail"] == "申请不存在"


def test_a_decision_on_an_unknown_approval_is_a_404(client_for):
    response = _api(client_for("qc"), "POST", "/api/v1/approvals/987654/decision", decision="approve")
    assert response.status_code == 404 and response.json()["detail"] == "申请不存在"


def test_the_page_of_an_unknown_approval_answers_404_with_the_message(client_for):
    response = client_for("qc").get("/approvals/987654")
    assert response.status_code == 404 and "申请不存在" in response.text
