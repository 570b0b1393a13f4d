"""POST /events and /events/batch: idempotency, validation, rules, query budget, limits."""

import json

import pytest
from django.test import override_settings

from accounts.models import AccountEvent, EventKey
from core.models import AuditLogEntry
from tests.factories import AccountFactory
from visits.models import Visit

from .conftest import txn_event

pytestmark = [pytest.mark.spec("4.special-event"), pytest.mark.django_db]


def test_it_records_an_event_and_schedules_its_visit(api, account, frozen_now):
    response = api.post("/api/v1/events", txn_event("CB-1", account.number), format="json")
    assert response.status_code == 201
    body = response.json()
    visit = Visit.objects.get(account=account, kind="special_event")
    assert body == {
        "event_id": "CB-1",
        "visits": [
            {
                "id": visit.pk,
                "kind": "special_event",
                "due_at": body["visits"][0]["due_at"],
                "due_provisional": False,
                "suspected_fraud": False,
            }
        ],
    }
    assert body["visits"][0]["due_at"].endswith("+08:00")
    event = AccountEvent.objects.get(event_id="CB-1")
    assert event.amount == 80000 and event.txn_kind == "cash" and event.flagged
    assert EventKey.objects.get(event_id="CB-1").answer == body  # the first answer, kept


def test_a_small_transaction_answers_201_with_no_visit(api, account, frozen_now):
    response = api.post(
        "/api/v1/events", txn_event("CB-2", account.number, "120.50"), format="json"
    )
    assert response.status_code == 201
    assert response.json() == {"event_id": "CB-2", "visits": []}
    assert not Visit.objects.exists()


def test_a_repeat_answers_200_with_the_first_answer_and_does_nothing(api, account, frozen_now):
    first = api.post("/api/v1/events", txn_event("CB-3", account.number), format="json")
    again = api.post("/api/v1/events", txn_event("CB-3", account.number), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert AccountEvent.objects.filter(event_id="CB-3").count() == 1
    assert Visit.objects.count() == 1


def test_the_same_id_with_another_body_is_409(api, account, frozen_now):
    api.post("/api/v1/events", txn_event("CB-4", account.number), format="json")
    response = api.post(
        "/api/v1/events", txn_event("CB-4", account.number, "90000.00"), format="json"
    )
    assert response.status_code == 409
    assert "event_id" in response.json()
    assert AccountEvent.objects.get(event_id="CB-4").amount == 80000


def test_event_ids_are_per_client(api, ingest_only, account, frozen_now):
    assert (
        api.post("/api/v1/events", txn_event("CB-5", account.number), format="json").status_code
        == 201
    )
    other = ingest_only.post("/api/v1/events", txn_event("CB-5", account.number), format="json")
    assert other.status_code == 201
    assert AccountEvent.objects.filter(event_id="CB-5").count() == 2


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.update(account_number="6222999999999999"), "account_number"),
        (lambda e: e.update(colour="red"), "colour"),
        (lambda e: e.update(type="wire"), "type"),
        (lambda e: e.update(occurred_at="2026-11-28T10:15:00"), "occurred_at"),
        (lambda e: e.update(occurred_at="yesterday"), "occurred_at"),
        (lambda e: e.update(occurred_at="2099-01-01T00:00:00+08:00"), "occurred_at"),
        (lambda e: e.update(event_id=""), "event_id"),
        (lambda e: e.update(event_id="x" * 65), "event_id"),
        (lambda e: e.pop("event_id"), "event_id"),
        (lambda e: e["data"].update(amount=80000), "data"),
        (lambda e: e["data"].update(amount="80000.001"), "data"),
        (lambda e: e["data"].update(amount="-5.00"), "data"),
        (lambda e: e["data"].update(amount="1" * 40), "data"),
        (lambda e: e["data"].update(direction="sideways"), "data"),
        (lambda e: e["data"].update(kind="cheque"), "data"),
        (lambda e: e["data"].update(currency="yuan"), "data"),
        (lambda e: e["data"].update(extra=1), "data"),
        (lambda e: e.update(data="80000"), "data"),
    ],
)
def test_it_rejects_bad_events_naming_the_field(api, account, mutate, field, frozen_now):
    event = txn_event("CB-6", account.number)
    mutate(event)
    response = api.post("/api/v1/events", event, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not AccountEvent.objects.exists()


def test_it_names_the_data_field_at_fault(api, account, frozen_now):
    event = txn_event("CB-7", account.number, amount="80000.001")
    response = api.post("/api/v1/events", event, format="json")
    assert response.json() == {"data": {"amount": [response.json()["data"]["amount"][0]]}}


@pytest.mark.parametrize(
    ("event_type", "data", "status"),
    [
        ("account_opened", None, 201),
        ("account_closed", {}, 201),
        ("account_closed", {"reason": "x"}, 400),
        ("info_changed", {"fields": ["mobile", "address"]}, 201),
        ("info_changed", {"fields": []}, 400),
        ("info_changed", {"fields": ["favourite_colour"]}, 400),
        ("complaint", {"text": "柜员态度差", "channel": "hotline"}, 201),
        ("complaint", {"text": ""}, 400),
        ("complaint", {"text": "a\u0000b"}, 400),
    ],
)
def test_it_checks_the_data_of_each_type(api, account, event_type, data, status, frozen_now):
    event = {
        "event_id": "CB-8",
        "type": event_type,
        "account_number": account.number,
        "occurred_at": "2026-11-28T10:00:00+08:00",
    }
    if data is not None:
        event["data"] = data
    response = api.post("/api/v1/events", event, format="json")
    assert response.status_code == status, response.content


def test_a_complaint_schedules_a_special_event_visit(api, account, frozen_now):
    event = {
        "event_id": "CB-9",
        "type": "complaint",
        "account_number": account.number,
        "occurred_at": "2026-11-28T10:00:00+08:00",
        "data": {"text": "投诉"},
    }
    response = api.post("/api/v1/events", event, format="json")
    assert [v["kind"] for v in response.json()["visits"]] == ["special_event"]


def test_account_closed_cancels_open_visits(api, account, frozen_now):
    api.post("/api/v1/events", txn_event("CB-10", account.number), format="json")
    event = {
        "event_id": "CB-11",
        "type": "account_closed",
        "account_number": account.number,
        "occurred_at": "2026-11-28T10:30:00+08:00",
    }
    assert api.post("/api/v1/events", event, format="json").status_code == 201
    assert Visit.objects.get(account=account).status == "cancelled"


def test_a_batch_answers_one_result_per_event_in_order(api, account, frozen_now):
    api.post("/api/v1/events", txn_event("B-0", account.number), format="json")
    events = [
        txn_event("B-1", account.number, "100.00", kind="transfer"),
        txn_event("B-2", "0000", "100.00"),  # unknown account
        txn_event("B-0", account.number),  # repeat
        txn_event("B-0", account.number, "1.00"),  # conflict
        "not an object",
        txn_event("B-1", account.number, "100.00", kind="transfer"),  # repeat inside the batch
        txn_event("B-3", account.number, "60000.00"),
    ]
    response = api.post("/api/v1/events/batch", {"events": events}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 200, 409, 400, 200, 201]
    assert [r["event_id"] for r in results] == ["B-1", "B-2", "B-0", "B-0", None, "B-1", "B-3"]
    assert "account_number" in results[1]["errors"]
    assert results[5]["visits"] == results[0]["visits"] == []
    assert [v["kind"] for v in results[6]["visits"]] == ["special_event"]
    assert set(AccountEvent.objects.values_list("event_id", flat=True)) == {"B-0", "B-1", "B-3"}


def test_a_batch_of_1000_costs_a_few_queries(api, django_assert_max_num_queries, frozen_now):
    accounts = AccountFactory.create_batch(50)
    events = [
        txn_event(f"Q-{i}", accounts[i % 50].number, "1500.00", kind="transfer")
        for i in range(1000)
    ]
    for k in range(10):  # ten large cash withdrawals, on ten different accounts
        events[k * 101]["data"].update(amount="80000.00", kind="cash")
    # Queries: session-less auth (key lookup, last-used update), accounts of the batch, known
    # event ids, the insert, the rules' own handful (rules, accounts, policies, calendar,
    # window aggregate, open visits, visit and trigger inserts, flagging), responses of the
    # events with visits, the audit entry (savepoints count too).
    with django_assert_max_num_queries(40):
        response = api.post("/api/v1/events/batch", {"events": events}, format="json")
    assert response.status_code == 200
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == [201] * 1000
    assert AccountEvent.objects.count() == 1000
    assert Visit.objects.filter(kind="special_event").count() == 10


def test_a_batch_writes_one_audit_entry(api, account, core_banking, frozen_now):
    before = AuditLogEntry.objects.count()
    events = [txn_event(f"A-{i}", account.number, "10.00") for i in range(5)]
    api.post("/api/v1/events/batch", {"events": events}, format="json")
    entry = AuditLogEntry.objects.order_by("-pk").first()
    assert AuditLogEntry.objects.count() == before + 1
    assert entry.client_name == core_banking[0].name
    assert entry.after["201"] == 5
    assert (entry.after["first_event_id"], entry.after["last_event_id"]) == ("A-0", "A-4")


def test_a_batch_over_1000_is_413_and_stores_nothing(api, account):
    events = [txn_event(f"L-{i}", account.number, "10.00") for i in range(1001)]
    response = api.post("/api/v1/events/batch", {"events": events}, format="json")
    assert response.status_code == 413
    assert not AccountEvent.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2000)
def test_a_body_over_the_size_limit_is_413(api, account):
    events = [txn_event(f"S-{i}", account.number, "10.00") for i in range(20)]
    response = api.post("/api/v1/events/batch", {"events": events}, format="json")
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"", "application/json", 400),
        (b"[]", "application/json", 400),
        (b'{"events": 5}', "application/json", 400),
        (b'{"events": [], "extra": 1}', "application/json", 400),
        (b'{"events": [' + b"9" * 5000 + b"]}", "application/json", 400),
        (b'{"events": [NaN]}', "application/json", 400),
        (b'{"events": [1e999]}', "application/json", 200),
        (b'{"events": ["\\ud800"]}', "application/json", 400),
        (b"[" * 100000 + b"]" * 100000, "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"events=1", "application/x-www-form-urlencoded", 415),
        (b'{"events": []}', "text/plain", 415),
    ],
)
def test_garbage_never_gets_a_500(api, body, content_type, status):
    response = api.generic("POST", "/api/v1/events/batch", body, content_type=content_type)
    assert response.status_code == status, response.content
    json.loads(response.content)


def test_garbage_in_single_events_never_gets_a_500(api, account):
    for body in (b"null", b"1", b'"x"', b'{"event_id": {"a": 1}}', b'{"\\u0000": 1}'):
        response = api.generic("POST", "/api/v1/events", body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)


@override_settings(
    REST_FRAMEWORK={
        **__import__("django.conf").conf.settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"service_client": "2/min", "staff": "2/min"},
    }
)
def test_it_throttles_per_client_with_retry_after(api, read_only, branch):
    assert api.get("/api/v1/branches").status_code == 200
    assert api.get("/api/v1/branches").status_code == 200
    response = api.get("/api/v1/branches")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert read_only.get("/api/v1/branches").status_code == 200  # another client, its own budget


class _Deadlock(Exception):
    pgcode = "40P01"


@pytest.mark.django_db(transaction=True)
def test_a_batch_chosen_as_deadlock_victim_is_tried_again_from_scratch(
    api, account, frozen_now, monkeypatch
):
    from django.db import OperationalError

    from visits import ingest as services

    real = services._events_ingest_once
    calls = []

    def victim_once(**kwargs):
        results = real(**kwargs)  # everything written, then the deadlock is detected
        calls.append(len(calls))
        if len(calls) == 1:
            raise OperationalError("deadlock detected") from _Deadlock()
        return results

    monkeypatch.setattr(services, "_events_ingest_once", victim_once)
    events = [txn_event("DL-1", account.number), txn_event("DL-2", account.number, "10.00")]
    response = api.post("/api/v1/events/batch", {"events": events}, format="json")
    assert response.status_code == 200
    # 201, not 200: the first try left nothing behind, not even its audit entry
    assert [r["status"] for r in response.json()["results"]] == [201, 201]
    assert len(calls) == 2
    assert AccountEvent.objects.count() == 2
    assert Visit.objects.filter(account=account).count() == 1
    assert AuditLogEntry.objects.filter(action="event.ingest").count() == 1


@pytest.mark.django_db(transaction=True)
def test_another_database_error_is_not_retried(api, account, frozen_now, monkeypatch):
    from django.db import OperationalError

    from visits import ingest as services

    calls = []

    def broken(**kwargs):
        calls.append(1)
        raise OperationalError("server closed the connection")

    monkeypatch.setattr(services, "_events_ingest_once", broken)
    with pytest.raises(OperationalError):
        services.events_ingest(client=None, events=[])
    assert calls == [1]
