"""Identical event requests racing from several threads: one event, one visit (PostgreSQL)."""

import threading

import pytest
import time_machine
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import AccountEvent
from core.api.auth import service_client_create
from tests.factories import AccountFactory, BranchFactory, CustomerFactory
from visits.models import Visit, VisitTrigger

from .conftest import NOW, txn_event

pytestmark = [
    pytest.mark.spec("4.special-event"),
    pytest.mark.postgres,
    # The rules and calendar seeded by migrations are put back by tests/fixtures.py.
    pytest.mark.django_db(transaction=True),
]

THREADS = 6


def _api(key: str) -> APIClient:
    """A client whose middleware is already loaded (loading is not what the race is about)."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    api.get("/api/v1/branches")
    return api


def _race(make_request, key):
    barrier = threading.Barrier(THREADS)
    answers, errors = [], []
    clients = [_api(key) for _ in range(THREADS)]
    connection.close()

    def run(api):
        try:
            barrier.wait(timeout=10)
            answers.append(make_request(api))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(api,)) for api in clients]
    with time_machine.travel(NOW, tick=True):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors
    return answers


def test_identical_events_racing_make_one_event_and_one_visit():
    account = AccountFactory(customer=CustomerFactory(branch=BranchFactory(code="BJ001")))
    _client, key = service_client_create(name="cbs", scopes=["ingest"])
    body = txn_event("RACE-1", account.number)

    def post(api):
        response = api.post("/api/v1/events", body, format="json")
        return response.status_code, response.json()

    answers = _race(post, key)
    assert sorted(code for code, _body in answers) == [200] * (THREADS - 1) + [201]
    assert all(b == answers[0][1] for _code, b in answers)  # everyone got the first answer
    assert AccountEvent.objects.filter(event_id="RACE-1").count() == 1
    assert Visit.objects.filter(account=account).count() == 1
    assert VisitTrigger.objects.count() == 1


def test_identical_batches_racing_make_each_event_once():
    account = AccountFactory(customer=CustomerFactory(branch=BranchFactory(code="BJ001")))
    _client, key = service_client_create(name="cbs", scopes=["ingest"])
    events = [txn_event(f"RB-{i}", account.number, "100.00", kind="transfer") for i in range(50)]
    events.append(txn_event("RB-big", account.number))

    def post(api):
        response = api.post("/api/v1/events/batch", {"events": events}, format="json")
        results = response.json()["results"]
        return response.status_code, [r["status"] for r in results], results[-1]

    answers = _race(post, key)
    assert all(code == 200 for code, _s, _last in answers)
    for i in range(len(events)):  # each event: created by exactly one request, repeated by the rest
        assert sorted(statuses[i] for _c, statuses, _l in answers) == [200] * (THREADS - 1) + [201]
    assert all(last["visits"] == answers[0][2]["visits"] != [] for _c, _s, last in answers)
    assert AccountEvent.objects.count() == len(events)
    assert Visit.objects.filter(account=account).count() == 1


def test_overlapping_batches_in_opposite_orders_all_get_through():
    """Batches sharing events and accounts, sent in opposite orders at once: no request fails
    on a deadlock, each event is stored once and each account has one open visit."""
    branch = BranchFactory(code="BJ001")
    accounts = [AccountFactory(customer=CustomerFactory(branch=branch)) for _ in range(40)]
    _client, key = service_client_create(name="cbs", scopes=["ingest"])
    events = [
        txn_event(f"OB-{i}-{j}", account.number, kind="cash")
        for i, account in enumerate(accounts)
        for j in range(25)
    ]
    turn = iter(range(THREADS))
    lock = threading.Lock()

    def post(api):
        with lock:
            reverse = next(turn) % 2
        body = {"events": events[::-1] if reverse else events}
        response = api.post("/api/v1/events/batch", body, format="json")
        return response.status_code, [r["status"] for r in response.json()["results"]]

    answers = _race(post, key)
    assert [code for code, _statuses in answers] == [200] * THREADS
    assert all(set(statuses) <= {200, 201} for _c, statuses in answers)
    assert sum(statuses.count(201) for _c, statuses in answers) == len(events)
    assert AccountEvent.objects.count() == len(events)
    for account in accounts:
        assert Visit.objects.filter(account=account, kind="special_event").count() == 1
