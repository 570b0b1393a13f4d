"""The department inbox, the escalation page, escalating from a visit, notifications."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import Notification
from escalations.models import Escalation, EscalationStatus
from escalations.services import escalation_accept

from .conftest import at

pytestmark = [pytest.mark.spec("7.inbox"), pytest.mark.django_db]


def test_it_shows_a_handler_only_their_departments(
    client, make_escalation, handler, ebanking_handler, ebanking_dept
):
    mine = make_escalation()
    theirs = make_escalation(department=ebanking_dept)
    client.force_login(handler)
    page = client.get(reverse("escalations:inbox")).content.decode()
    assert f"esc-row-{mine.pk}" in page and f"esc-row-{theirs.pk}" not in page
    assert client.get(reverse("escalations:detail", args=[theirs.pk])).status_code == 404


def test_it_hides_everything_from_an_outsider(client, make_escalation, other_agent):
    escalation = make_escalation()
    client.force_login(other_agent)
    assert (
        f"esc-row-{escalation.pk}"
        not in client.get(reverse("escalations:inbox") + "?show=all").content.decode()
    )
    assert client.get(reverse("escalations:detail", args=[escalation.pk])).status_code == 404
    response = client.post(reverse("escalations:act", args=[escalation.pk, "reply"]))
    assert response.status_code == 404


def test_it_sorts_by_deadline_and_marks_overdue_and_near(
    client, make_escalation, handler, wednesday_morning
):
    later = make_escalation(deadline_at=at(2025, 9, 12, 17, 0))
    near = make_escalation(deadline_at=at(2025, 9, 10, 15, 30))
    late = make_escalation(deadline_at=at(2025, 9, 10, 14, 0))
    wednesday_morning.move_to(at(2025, 9, 10, 15, 0))
    client.force_login(handler)
    # Queries: session, user, profile (role), escalations page, departments, raised count,
    # unread notifications in the nav, the calendar year with its days for "near".
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("escalations:inbox"))
    assert len(queries) <= 13
    rows = response.context["escalations"]
    assert [e.pk for e in rows] == [late.pk, near.pk, later.pk]
    assert [(e.is_overdue, e.is_near) for e in rows] == [
        (True, False),
        (False, True),
        (False, False),
    ]
    page = response.content.decode()
    assert f'id="esc-row-{late.pk}" class="overdue"' in page
    assert f'id="esc-row-{near.pk}" class="near"' in page


def test_the_inbox_query_count_does_not_grow_with_rows(client, make_escalation, handler):
    make_escalation()
    client.force_login(handler)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("escalations:inbox"))
    for _ in range(5):
        make_escalation(handler=handler, status=EscalationStatus.ACCEPTED)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("escalations:inbox"))
    assert len(many) == len(few)


def test_it_accepts_in_place_with_htmx(client, make_escalation, handler):
    escalation = make_escalation()
    client.force_login(handler)
    response = client.post(
        reverse("escalations:act", args=[escalation.pk, "accept"]),
        {"from": "inbox"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response.templates[0].name == "escalations/_row.html"
    assert 'data-status="accepted"' in response.content.decode()
    assert Escalation.objects.get(pk=escalation.pk).handler == handler


def test_it_tells_the_second_handler_who_was_first(
    client, make_escalation, named_handler, second_handler
):
    escalation = make_escalation()
    escalation_accept(escalation=escalation, by=named_handler)
    client.force_login(second_handler)
    response = client.post(
        reverse("escalations:act", args=[escalation.pk, "accept"]),
        {"from": "inbox"},
        HTTP_HX_REQUEST="true",
    )
    assert "已被 张三 受理" in response.content.decode()
    response = client.post(reverse("escalations:act", args=[escalation.pk, "accept"]))
    assert response.status_code == 409
    assert "已被 张三 受理" in response.content.decode()


def test_it_shows_a_missing_result_next_to_the_field(client, make_escalation, handler):
    escalation = make_escalation(EscalationStatus.ACCEPTED)
    client.force_login(handler)
    response = client.post(
        reverse("escalations:act", args=[escalation.pk, "resolve"]), {"resolve-result": ""}
    )
    assert response.status_code == 400
    assert response.context["action_forms"]["resolve"].errors["result"]
    assert Escalation.objects.get(pk=escalation.pk).status == EscalationStatus.ACCEPTED


def test_it_rejects_an_unknown_action_and_a_bad_department(client, make_escalation, handler):
    escalation = make_escalation()
    client.force_login(handler)
    assert (
        client.post(reverse("escalations:act", args=[escalation.pk, "explode"])).status_code == 404
    )
    response = client.post(
        reverse("escalations:act", args=[escalation.pk, "transfer"]),
        {"transfer-department": "999999", "transfer-reason": "x"},
    )
    assert response.status_code == 400
    assert response.context["action_forms"]["transfer"].errors["department"]


def test_it_escalates_from_a_visit(client, visit, agent, security_dept):
    client.force_login(agent)
    url = reverse("escalations:open", args=[visit.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"department": security_dept.pk, "urgency": "high"})
    assert response.status_code == 400 and response.context["form"].errors["description"]
    response = client.post(
        url, {"department": security_dept.pk, "urgency": "high", "description": "账户被冻结"}
    )
    escalation = Escalation.objects.get()
    assert response.url == reverse("escalations:detail", args=[escalation.pk])
    assert escalation.deadline_at == at(2025, 9, 11, 17, 0)
    assert escalation.opened_by == agent


def test_the_escalation_page_shows_the_timeline_and_the_allowed_actions(
    client, make_escalation, handler, agent, supervisor
):
    escalation = make_escalation(EscalationStatus.RESOLVED, result="已解冻")
    client.force_login(agent)
    page = client.get(reverse("escalations:detail", args=[escalation.pk])).content.decode()
    assert 'id="form-reply"' in page and 'id="form-resolve"' not in page
    assert 'data-action="open"' in page
    client.force_login(handler)
    page = client.get(reverse("escalations:detail", args=[escalation.pk])).content.decode()
    assert 'id="form-reply"' not in page
    client.force_login(supervisor)
    opened = make_escalation()
    page = client.get(reverse("escalations:detail", args=[opened.pk])).content.decode()
    assert 'id="form-extend"' in page and 'id="form-transfer"' in page


def test_the_supervisor_extends_from_the_page(client, make_escalation, supervisor):
    escalation = make_escalation()
    client.force_login(supervisor)
    response = client.post(
        reverse("escalations:act", args=[escalation.pk, "extend"]),
        {"extend-new_deadline": "2025-09-20T17:00", "extend-reason": "等待回函"},
    )
    assert response.status_code == 302
    assert Escalation.objects.get(pk=escalation.pk).deadline_at == at(2025, 9, 20, 17, 0)


@pytest.mark.spec("7.overdue")
def test_the_notifications_page_and_the_unread_count(client, make_escalation, handler):
    make_escalation()  # notifies the security department's handler
    notification = Notification.objects.get(user=handler)
    client.force_login(handler)
    page = client.get(reverse("escalations:notifications")).content.decode()
    assert notification.message in page
    assert 'id="nav-notifications"' in page and '<span class="badge bad">1</span>' in page
    response = client.post(reverse("escalations:notification_open", args=[notification.pk]))
    assert response.url == notification.link
    assert Notification.objects.get(pk=notification.pk).read_at is not None
    page = client.get(reverse("escalations:notifications")).content.decode()
    assert '<span class="badge bad">1</span>' not in page


@pytest.mark.spec("7.statistics")
def test_the_stats_page_is_for_supervisors(client, make_escalation, supervisor, handler):
    make_escalation()
    client.force_login(handler)
    assert client.get(reverse("escalations:stats")).status_code == 403
    client.force_login(supervisor)
    response = client.get(reverse("escalations:stats"))
    assert response.status_code == 200
    assert [row["opened"] for row in response.context["rows"]] == [1]
