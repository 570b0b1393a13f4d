"""GET /visits and /visits/{id}: filters, cursor pagination, detail, masks, query budget."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from escalations.models import Escalation
from tests.factories import AccountFactory, CustomerFactory, VisitFactory
from visits.models import ContactAttempt, VisitRecord

pytestmark = [pytest.mark.spec("6.api-visits"), pytest.mark.django_db]


def test_it_filters_visits(api, account, customer, branch):
    other = AccountFactory(customer=CustomerFactory(branch=branch))
    mine = VisitFactory(account=account, kind="new_account")
    VisitFactory(account=other, kind="periodic", status="cancelled")
    ids = lambda r: [v["id"] for v in r.json()["results"]]  # noqa: E731
    assert ids(api.get("/api/v1/visits", {"account_number": account.number})) == [mine.pk]
    assert ids(api.get("/api/v1/visits", {"customer_external_id": customer.external_id})) == [
        mine.pk
    ]
    assert ids(api.get("/api/v1/visits", {"kind": "new_account"})) == [mine.pk]
    assert ids(api.get("/api/v1/visits", {"status": "pending"})) == [mine.pk]
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    assert ids(api.get("/api/v1/visits", {"updated_since": future})) == []
    row = api.get("/api/v1/visits", {"account_number": account.number}).json()["results"][0]
    assert row["account_number"] == account.number  # the client sent it: not masked for it
    assert row["customer_external_id"] == customer.external_id and row["branch_code"] == "BJ001"


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "x"},
        {"status": "done"},
        {"updated_since": "soon"},
        {"updated_since": "2026-01-01T00:00:00"},
    ],
)
def test_bad_filters_are_400_naming_them(api, params, db):
    response = api.get("/api/v1/visits", params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)


def test_it_pages_with_a_cursor(api, account, django_assert_max_num_queries):
    for kind in ("new_account", "periodic", "special_event", "follow_up"):
        VisitFactory(account=account, kind=kind)
    seen = []
    url = "/api/v1/visits?page_size=3"
    # Queries per page: key lookup, last-used update, the page (one join, no N+1).
    with django_assert_max_num_queries(3):
        response = api.get(url)
    while url:
        response = api.get(url)
        seen += [v["id"] for v in response.json()["results"]]
        url = response.json()["next"]
    assert len(seen) == 4 == len(set(seen))


def test_page_size_is_capped_at_500(api, account):
    VisitFactory(account=account)
    assert api.get("/api/v1/visits?page_size=100000").status_code == 200
    assert api.get("/api/v1/visits?page_size=-4").status_code == 200
    bad_cursor = api.get("/api/v1/visits?cursor=garbage")
    assert bad_cursor.status_code == 400 and "cursor" in bad_cursor.json()


def test_the_detail_shows_attempts_and_record_summary(api, account, agent, security_dept):
    visit = VisitFactory(
        account=account, status="completed", assigned_to=agent, completed_at=timezone.now()
    )
    ContactAttempt.objects.create(visit=visit, channel="phone", agent=agent, outcome="no_answer")
    ContactAttempt.objects.create(visit=visit, channel="phone", agent=agent, outcome="reached")
    record = VisitRecord.objects.create(
        visit=visit,
        channel="phone",
        submitted_by=agent,
        reminder_anti_fraud=True,
        reminder_safe_operation=True,
        satisfaction=4,
        handling="escalated",
        problem="网银登录失败",
    )
    Escalation.objects.create(
        visit=visit,
        record=record,
        account=account,
        department=security_dept,
        urgency="high",
        description="网银登录失败",
        deadline_at=timezone.now() + dt.timedelta(days=1),
    )
    body = api.get(f"/api/v1/visits/{visit.pk}").json()
    assert [a["outcome"] for a in body["attempts"]] == ["no_answer", "reached"]
    assert body["record"]["outcome"] == "escalated"
    assert body["record"]["satisfaction"] == 4
    assert [(p["department"], p["status"]) for p in body["record"]["problems"]] == [
        ("security", "opened")
    ]


def test_an_open_visit_has_no_record_summary(api, account):
    visit = VisitFactory(account=account)
    assert api.get(f"/api/v1/visits/{visit.pk}").json()["record"] is None


def test_unknown_visits_are_404(api, db):
    assert api.get("/api/v1/visits/999999").status_code == 404
    assert api.get(f"/api/v1/visits/{2**70}").status_code == 404


@pytest.mark.spec("6.masking")
def test_staff_see_masked_account_numbers(agent, account):
    VisitFactory(account=account)
    client = APIClient()
    client.force_login(agent)
    row = client.get("/api/v1/visits").json()["results"][0]
    assert row["account_number"] == account.masked_number != account.number
