"""Events at the edges (SPEC §4 "Precise rules for the edges", API.md "Events"): a currency
without a rate is a 400 that stores nothing; closed accounts and do-not-contact customers get
no new visit and the answer says why; closing by any path ends the relationship."""

import datetime as dt

import pytest

from accounts.models import AccountEvent
from tests.factories import AccountFactory, VisitFactory
from visits.models import Visit

from .conftest import customer_body, txn_event

pytestmark = [pytest.mark.django_db]

SMALL_TIMES = [f"2026-11-27T{h:02d}:00:00+08:00" for h in range(12, 22)]


@pytest.mark.spec("4.currencies", clause="六.3")
def test_a_currency_without_a_rate_is_refused_naming_data_currency(api, account, frozen_now):
    response = api.post(
        "/api/v1/events", txn_event("CUR-1", account.number, currency="CHF"), format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["data"]
    assert list(response.json()["data"]) == ["currency"]
    assert not AccountEvent.objects.exists()


@pytest.mark.spec("4.currencies", clause="六.3")
def test_a_batch_refuses_only_the_event_in_a_currency_without_a_rate(api, account, frozen_now):
    events = [
        txn_event("CUR-2", account.number, currency="CHF"),
        txn_event("CUR-3", account.number, "10000.00", currency="USD"),
    ]
    results = api.post("/api/v1/events/batch", {"events": events}, format="json").json()
    assert [r["status"] for r in results["results"]] == [400, 201]
    assert "currency" in results["results"][0]["errors"]["data"]
    assert len(results["results"][1]["visits"]) == 1
    assert list(AccountEvent.objects.values_list("event_id", flat=True)) == ["CUR-3"]


@pytest.mark.spec("4.closed-accounts", clause="六.3")
def test_an_event_on_a_closed_account_is_stored_and_answered_with_the_reason(
    api, customer, frozen_now
):
    closed = AccountFactory(customer=customer, status="closed", closed_on=dt.date(2026, 11, 1))
    response = api.post("/api/v1/events", txn_event("CL-1", closed.number), format="json")
    assert response.status_code == 201
    assert response.json() == {"event_id": "CL-1", "visits": [], "skipped": "account_closed"}
    assert AccountEvent.objects.get(event_id="CL-1").flagged
    assert not Visit.objects.filter(account=closed).exists()
    # A repeat answers the first answer, reason included.
    again = api.post("/api/v1/events", txn_event("CL-1", closed.number), format="json")
    assert again.status_code == 200 and again.json()["skipped"] == "account_closed"


@pytest.mark.spec("4.do-not-contact", clause=("五.1", "五.2"))
def test_a_do_not_contact_customer_gets_no_special_event_visit_and_the_answer_says_why(
    api, account, frozen_now
):
    account.customer.do_not_contact = True
    account.customer.save()
    response = api.post("/api/v1/events", txn_event("DNC-1", account.number), format="json")
    assert response.json() == {"event_id": "DNC-1", "visits": [], "skipped": "do_not_contact"}
    assert not Visit.objects.exists()


@pytest.mark.spec("4.do-not-contact", clause=("五.1", "五.2"))
def test_a_do_not_contact_customer_still_gets_the_suspected_fraud_visit(api, account, frozen_now):
    account.customer.do_not_contact = True
    account.customer.save()
    events = [
        txn_event(f"DNC-B{i}", account.number, "20.00", occurred_at=at, kind="transfer")
        for i, at in enumerate(SMALL_TIMES)
    ]
    results = api.post("/api/v1/events/batch", {"events": events}, format="json").json()
    (visit,) = Visit.objects.filter(account=account)
    assert visit.suspected_fraud
    assert all(r["visits"][0]["suspected_fraud"] for r in results["results"])
    assert all("skipped" not in r for r in results["results"])


@pytest.mark.spec("4.do-not-contact", clause=("五.1", "五.2"))
def test_setting_do_not_contact_cancels_the_open_non_fraud_visits(api, account, frozen_now):
    periodic = VisitFactory(account=account, kind="periodic")
    fraud = VisitFactory(account=account, kind="special_event", suspected_fraud=True)
    body = customer_body(do_not_contact=True)
    response = api.put(f"/api/v1/customers/{account.customer.external_id}", body, format="json")
    assert response.status_code == 200, response.json()
    periodic.refresh_from_db()
    fraud.refresh_from_db()
    assert (periodic.status, periodic.cancelled_reason) == ("cancelled", "do_not_contact")
    assert fraud.status == "pending"
    detail = api.get(f"/api/v1/visits/{periodic.pk}").json()
    assert detail["cancelled_reason"] == "do_not_contact"
    assert detail["suspected_fraud"] is False


@pytest.mark.spec("4.do-not-contact", clause=("五.1", "五.2"))
def test_visits_of_a_do_not_contact_customer_are_never_overdue(account, frozen_now):
    past = dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.UTC)
    plain = VisitFactory(account=account, kind="periodic", due_at=past)
    fraud = VisitFactory(account=account, kind="special_event", due_at=past, suspected_fraud=True)
    assert set(Visit.objects.overdue()) == {plain, fraud}
    account.customer.do_not_contact = True
    account.customer.save()
    assert list(Visit.objects.overdue()) == [fraud]
    plain.refresh_from_db()
    assert not plain.is_overdue() and fraud.is_overdue()


@pytest.mark.spec("4.closed-accounts", clause="八.3")
def test_the_relationship_ends_when_the_last_account_closes_by_event_and_reopening_clears_it(
    api, customer, frozen_now
):
    first = AccountFactory(customer=customer)
    second = AccountFactory(customer=customer, status="closed", closed_on=dt.date(2026, 10, 9))
    closing = {
        "event_id": "END-1",
        "type": "account_closed",
        "account_number": first.number,
        "occurred_at": "2026-11-27T16:00:00+08:00",
    }
    assert api.post("/api/v1/events", closing, format="json").status_code == 201
    customer.refresh_from_db()
    first.refresh_from_db()
    assert first.status == "closed" and first.closed_on == dt.date(2026, 11, 27)
    assert customer.relationship_ended_on == dt.date(2026, 11, 27)
    body = {
        "customer_external_id": customer.external_id,
        "account_type": "personal_savings",
        "status": "active",
        "opened_on": "2025-06-02",
        "branch_code": "BJ001",
    }
    assert api.put(f"/api/v1/accounts/{second.number}", body, format="json").status_code == 200
    customer.refresh_from_db()
    assert customer.relationship_ended_on is None


@pytest.mark.spec("4.closed-accounts", clause="八.3")
def test_the_relationship_ends_when_the_last_account_closes_by_put(api, account, frozen_now):
    body = {
        "customer_external_id": account.customer.external_id,
        "account_type": "personal_savings",
        "status": "closed",
        "opened_on": "2025-06-02",
        "branch_code": "BJ001",
    }
    assert api.put(f"/api/v1/accounts/{account.number}", body, format="json").status_code == 200
    account.customer.refresh_from_db()
    assert account.customer.relationship_ended_on == dt.date(2026, 11, 28)


@pytest.mark.spec("4.burst", clause="六.3")
def test_the_visit_detail_lists_every_event_of_the_burst(api, account, frozen_now):
    events = [
        txn_event(f"BUR-{i}", account.number, "20.00", occurred_at=at, kind="transfer")
        for i, at in reversed(list(enumerate(SMALL_TIMES)))
    ]
    for event in events:  # newest first, one at a time
        assert api.post("/api/v1/events", event, format="json").status_code == 201
    (visit,) = Visit.objects.filter(account=account)
    detail = api.get(f"/api/v1/visits/{visit.pk}").json()
    assert detail["suspected_fraud"] is True and detail["cancelled_reason"] is None
    assert [e["event_id"] for e in detail["events"]] == [f"BUR-{i}" for i in range(10)]
    assert detail["events"][0] == {
        "event_id": "BUR-0",
        "type": "transaction",
        "occurred_at": "2026-11-27T12:00:00+08:00",
    }


@pytest.mark.spec("4.visits-api")
@pytest.mark.parametrize(
    "name",
    ["account_number", "customer_external_id", "kind", "status", "updated_since", "page_size"],
)
def test_a_nul_in_any_visits_query_parameter_is_a_400_naming_it(api, name, frozen_now):
    response = api.get("/api/v1/visits", {name: "a\x00b"})
    assert response.status_code == 400
    assert list(response.json()) == [name]


@pytest.mark.spec("4.visits-api")
@pytest.mark.parametrize("with_key", [False, True])
@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/schema/"])
def test_docs_and_schema_answer_200_with_or_without_a_key(api, anonymous, path, with_key):
    response = (api if with_key else anonymous).get(path)
    assert response.status_code == 200
