"""Query budgets of the escalation pages: each page costs the same number of queries whatever
the number of rows it shows (measured with a few rows, then with many)."""

import pytest
from django.urls import reverse

from core.notifications import notify
from escalations.models import EscalationStatus, EscalationStep

pytestmark = pytest.mark.django_db


def _steps(escalation, handler, count: int) -> None:
    EscalationStep.objects.bulk_create(
        EscalationStep(
            escalation=escalation,
            action="transfer",
            from_status=EscalationStatus.ACCEPTED,
            to_status=EscalationStatus.ACCEPTED,
            by=handler,
            note=f"第 {n} 次转交",
        )
        for n in range(count)
    )


def test_the_escalation_page_has_a_fixed_query_budget(
    client, make_escalation, handler, django_assert_num_queries
):
    escalation = make_escalation(EscalationStatus.ACCEPTED)
    _steps(escalation, handler, 2)
    url = reverse("escalations:detail", args=[escalation.pk])
    client.force_login(handler)
    client.get(url)  # warm the content-type cache that guardian reads once per process
    with django_assert_num_queries(DETAIL_QUERIES):
        assert client.get(url).status_code == 200
    _steps(escalation, handler, 20)
    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(url)
    assert response.content.decode().count("第 19 次转交") == 1


# 1 session, 2 user with their staff profile (role); 3 the branch and department scope (one statement, once per request); 4 the escalation within the handler's scope; 5 the
# escalation with its department, handler and opener; 6 its steps (prefetched, one query for
# all of them); 7 the people named in the steps (one query); 8 the calendar year with its
# days (the "near deadline" threshold); 9 what the department sees of the source (account,
# customer, the visit's record); 10 whether it is raised; 11 unread notifications (menu); 12 the
# departments of the transfer form; 13-15 savepoint, session refresh, release
# (SESSION_SAVE_EVERY_REQUEST).
DETAIL_QUERIES = 15


def test_the_statistics_page_has_a_fixed_query_budget(
    client, make_escalation, supervisor, django_assert_num_queries
):
    make_escalation()
    url = reverse("escalations:stats")
    client.force_login(supervisor)
    client.get(url)
    with django_assert_num_queries(STATS_QUERIES):
        assert client.get(url).status_code == 200
    for status in (EscalationStatus.ACCEPTED, EscalationStatus.RESOLVED, EscalationStatus.CLOSED):
        make_escalation(status)
        make_escalation(status, urgency="urgent")
    with django_assert_num_queries(STATS_QUERIES):
        response = client.get(url)
    assert sum(row["opened"] for row in response.context["rows"]) == 7


# 1 session, 2 user with their staff profile (role); 3 the branch and department scope (one statement, once per request); 4 the figures of every department (one grouped aggregate);
# 5 unread notifications (menu); 6-8 savepoint, session refresh, release.
STATS_QUERIES = 8


def test_the_notifications_page_has_a_fixed_query_budget(
    client, handler, django_assert_num_queries
):
    def send(count: int) -> None:
        for n in range(count):
            notify([handler], message=f"通知 {n}", link="/escalations/", key=None)

    send(2)
    url = reverse("escalations:notifications")
    client.force_login(handler)
    client.get(url)
    with django_assert_num_queries(NOTIFICATIONS_QUERIES):
        assert client.get(url).status_code == 200
    send(30)
    with django_assert_num_queries(NOTIFICATIONS_QUERIES):
        response = client.get(url)
    assert len(response.context["notifications"]) == 32


# 1 session, 2 user with their staff profile (role); 3 unread notifications (menu); 4 the newest 100
# notifications; 5-7 savepoint, session refresh, release.
NOTIFICATIONS_QUERIES = 7
