"""Who may open the pages of records integrity (the permission matrix, extended)."""

import pytest
from django.urls import reverse

PERSONAS = [
    "agent",
    "other_agent",
    "teller",
    "handler",
    "supervisor",
    "administrator",
    "security_admin",
    "audit_admin",
]

# page -> {persona: expected status}; anyone not listed gets 403.
MATRIX = {
    "audit_log": {"supervisor": 200, "audit_admin": 200},
    "record_detail": {"agent": 200, "supervisor": 200, "other_agent": 404},
    "record_amend": {"agent": 200, "supervisor": 200, "other_agent": 404},
    "destruction_lists": {"supervisor": 200},
}


def _url(page, record):
    return {
        "audit_log": lambda: reverse("supervision:audit_log"),
        "record_detail": lambda: reverse("records:detail", args=[record.pk]),
        "record_amend": lambda: reverse("records:amend", args=[record.pk]),
        "destruction_lists": lambda: reverse("records:destruction_lists"),
    }[page]()


@pytest.mark.spec("6.permissions")
@pytest.mark.parametrize("page", list(MATRIX))
@pytest.mark.parametrize("persona", PERSONAS)
def test_it_answers_each_role_as_the_matrix_says(client, request, record, page, persona):
    client.force_login(request.getfixturevalue(persona))
    expected = MATRIX[page].get(persona, 403)
    assert client.get(_url(page, record)).status_code == expected


@pytest.mark.spec("6.permissions")
@pytest.mark.parametrize("page", list(MATRIX))
def test_it_sends_anonymous_visitors_to_the_login_page(client, record, page):
    response = client.get(_url(page, record))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.spec("6.permissions")
def test_it_lets_the_audit_administrator_change_nothing(client, audit_admin, record):
    client.force_login(audit_admin)
    assert client.post(reverse("records:destruction_lists")).status_code == 403
    amend = client.post(
        reverse("records:amend", args=[record.pk]),
        {"field": "feedback", "new_value": "x", "reason": "y"},
    )
    assert amend.status_code == 403
    assert not record.amendments.exists()


@pytest.mark.spec("6.amendment")
def test_it_shows_the_original_and_its_amendments(client, agent, record):
    client.force_login(agent)
    bad = client.post(
        reverse("records:amend", args=[record.pk]),
        {"field": "satisfaction", "new_value": "7", "reason": "录入错误"},
    )
    assert bad.status_code == 400 and "new_value" in bad.context["form"].errors
    client.post(
        reverse("records:amend", args=[record.pk]),
        {"field": "satisfaction", "new_value": "4", "reason": "录入错误"},
    )
    page = client.get(reverse("records:detail", args=[record.pk]))
    html = page.content.decode()
    assert "录入错误" in html and "客户表示账户正常使用" in html
    assert [(a.old_value, a.new_value) for a in page.context["amendments"]] == [("5", "4")]
