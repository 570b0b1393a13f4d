"""Query budgets of the REST API: each endpoint costs the same number of queries whatever the
number of rows behind it (measured with a few rows, then with many). Time stands still, so the
key's last-used time is written once, by the first request, and never inside a budget."""

import pytest
from django.db import connection

from tests.budgets import AUDIT_ENTRY
from tests.factories import AccountFactory, BranchFactory, CustomerFactory, VisitFactory
from visits.models import ContactAttempt

from .conftest import customer_body, txn_event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]

ACCOUNT = {
    "customer_external_id": "C0001",
    "account_type": "personal_savings",
    "status": "active",
    "opened_on": "2026-11-25",
    "branch_code": "BJ001",
}


@pytest.fixture
def api(api):
    """The core-banking client, its key's last-used time already written."""
    assert api.get("/api/v1/branches").status_code == 200
    return api


def test_health_has_a_fixed_query_budget(client, django_assert_num_queries):
    # 1 the database answers (SELECT 1); 2 whether next year's calendar is loaded (asked from
    # 1 November; time stands at 28 November here). No key, no session.
    with django_assert_num_queries(2):
        assert client.get("/api/v1/health").status_code == 200


def test_the_branch_list_has_a_fixed_query_budget(api, branch, django_assert_num_queries):
    with django_assert_num_queries(BRANCHES_QUERIES):
        assert len(api.get("/api/v1/branches").json()["results"]) == 1
    for n in range(20):
        BranchFactory(code=f"GZ{n:03d}", name=f"广州第{n}支行")
    with django_assert_num_queries(BRANCHES_QUERIES):
        assert len(api.get("/api/v1/branches").json()["results"]) == 21


# 1 the service client of the key; 2 the page of branches (cursor pagination, no count).
BRANCHES_QUERIES = 2


def test_the_customer_has_a_fixed_query_budget(api, customer, django_assert_num_queries):
    url = f"/api/v1/customers/{customer.external_id}"
    AccountFactory(customer=customer)
    with django_assert_num_queries(CUSTOMER_QUERIES):
        assert api.get(url).status_code == 200
    for _ in range(10):
        AccountFactory(customer=customer)
    with django_assert_num_queries(CUSTOMER_QUERIES):
        assert api.get(url).status_code == 200


# 1 the service client of the key; 2 the customer with its branch.
CUSTOMER_QUERIES = 2


def test_replacing_a_customer_has_a_fixed_query_budget(api, branch, django_assert_num_queries):
    api.put("/api/v1/customers/C0001", customer_body(), format="json")
    with django_assert_num_queries(CUSTOMER_PUT_QUERIES):
        put = api.put("/api/v1/customers/C0001", customer_body(name="张三"), format="json")
    assert put.status_code == 200
    for n in range(10):
        api.put(f"/api/v1/accounts/62220200000000{n:02d}", ACCOUNT, format="json")
    with django_assert_num_queries(CUSTOMER_PUT_QUERIES):
        put = api.put("/api/v1/customers/C0001", customer_body(name="李四"), format="json")
    assert put.status_code == 200


# 1 the service client of the key; 2 the branch of the body; 3 savepoint; 4 the customer by
# external id (locked); 5 its branch (the values compared); 6 the update; its audit entry;
# 7 release; 8 the customer answered, with its branch. A replacement that changes no contact
# detail raises no event.
CUSTOMER_PUT_QUERIES = 8 + AUDIT_ENTRY


def test_replacing_an_account_has_a_fixed_query_budget(api, branch, django_assert_num_queries):
    api.put("/api/v1/customers/C0001", customer_body(), format="json")
    api.put("/api/v1/accounts/6222020000000001", ACCOUNT, format="json")
    with django_assert_num_queries(ACCOUNT_PUT_QUERIES):
        put = api.put(
            "/api/v1/accounts/6222020000000001", {**ACCOUNT, "status": "dormant"}, format="json"
        )
    assert put.status_code == 200
    for n in range(10):
        api.put(f"/api/v1/accounts/62220200000001{n:02d}", ACCOUNT, format="json")
    with django_assert_num_queries(ACCOUNT_PUT_QUERIES):
        put = api.put(
            "/api/v1/accounts/6222020000000001", {**ACCOUNT, "status": "frozen"}, format="json"
        )
    assert put.status_code == 200


# 1 the service client of the key; 2 the customer and 3 the branch of the body; 4 savepoint;
# 5 the account by number; 6 its customer and 7 its branch (the values compared); 8 the update;
# its audit entry; 9 savepoint; 10-11 the relationship end of its customer, cleared then
# recomputed from all its accounts (two set-based updates); 12-13 release (twice); 14 the
# account answered, with its customer and branch.
ACCOUNT_PUT_QUERIES = 14 + AUDIT_ENTRY


def test_one_event_has_a_fixed_query_budget(api, branch, django_assert_num_queries):
    def fresh_account():
        return AccountFactory(customer=CustomerFactory(branch=branch))

    number = fresh_account().number
    with django_assert_num_queries(EVENT_QUERIES):
        first = api.post("/api/v1/events", txn_event("CB-1", number), format="json")
    assert first.status_code == 201 and len(first.json()["visits"]) == 1
    for n in range(10):
        api.post("/api/v1/events", txn_event(f"CB-x{n}", fresh_account().number), format="json")
    number = fresh_account().number
    with django_assert_num_queries(EVENT_QUERIES):
        later = api.post("/api/v1/events", txn_event("CB-2", number), format="json")
    assert later.status_code == 201 and len(later.json()["visits"]) == 1


# 1 the service client of the key; 2 the accounts of the batch, with what the rules read of
# them and their customers; 3 the event keys claimed (one statement; a key already stored is
# read only when the claim skips it); 4 the events inserted (one statement; on PostgreSQL two,
# their ids then a COPY: +1); 5 the active event rules; 6 the active policies; 7 the currency
# rates; 8 the transactions in each rule's window (one windowed query); 9 the calendar year
# with its days (the due time); 10 the open visits of the accounts; 11-13 the new visit
# (savepoint, insert, release); 14 its triggers; 15 the events marked; 16 the answer kept on
# the event key; the audit entry. (Outside a caller's transaction, on PostgreSQL, one more:
# SET CONSTRAINTS.)
EVENT_QUERIES = 16 + AUDIT_ENTRY + (connection.vendor == "postgresql")


def test_the_visit_has_a_fixed_query_budget(api, account, django_assert_num_queries):
    visit = VisitFactory(account=account)
    url = f"/api/v1/visits/{visit.pk}"
    ContactAttempt.objects.create(visit=visit, channel="phone", outcome="no_answer")
    with django_assert_num_queries(VISIT_QUERIES):
        assert api.get(url).status_code == 200
    ContactAttempt.objects.bulk_create(
        ContactAttempt(visit=visit, channel="phone", outcome="no_answer") for _ in range(10)
    )
    with django_assert_num_queries(VISIT_QUERIES):
        assert api.get(url).json()["id"] == visit.pk


# 1 the service client of the key; 2 the visit with its account, customer, branch and record;
# 3 its attempts, 4 its triggers with their events and 5 its escalations with their department
# (prefetched: one query each, whatever their number).
VISIT_QUERIES = 5
