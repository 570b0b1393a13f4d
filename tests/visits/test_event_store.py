"""The event store: idempotency keys kept for a window, old unmatched events purged (whole
monthly partitions on PostgreSQL), events a visit points to kept."""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from accounts.models import AccountEvent, EventKey
from core.api.auth import service_client_create
from tests.factories import AccountFactory, VisitFactory
from visits import event_store
from visits.ingest import EventInput, canonical_hash, events_ingest
from visits.models import VisitTrigger

pytestmark = pytest.mark.django_db


def _event(event_id: str, account, occurred_at, amount="3000.00") -> EventInput:
    """A transfer that matches no rule: above the small-burst ceiling, under every threshold."""
    body = {"event_id": event_id, "amount": amount, "at": occurred_at.isoformat()}
    return EventInput(
        event_id=event_id,
        body_hash=canonical_hash(body),
        fields={
            "event_type": "transaction",
            "account_id": account.pk,
            "occurred_at": occurred_at,
            "data": {"amount": amount},
            "amount": Decimal(amount),
            "currency": "CNY",
            "txn_kind": "transfer",
            "direction": "out",
            "channel": "online",
        },
    )


def _callback():
    return settings.CALLBACK


@pytest.fixture
def client():
    return service_client_create(name="core-banking", scopes=["ingest"])[0]


def test_it_answers_a_repeat_from_its_key_and_forgets_the_key_after_the_window(client):
    account = AccountFactory()
    now = timezone.now()
    [first] = events_ingest(client=client, events=[_event("K-1", account, now)])
    [again] = events_ingest(client=client, events=[_event("K-1", account, now)])
    [other] = events_ingest(client=client, events=[_event("K-1", account, now, "5.00")])
    assert (first.status, again.status, other.status) == (201, 200, 409)
    assert again.body == first.body
    assert AccountEvent.objects.filter(event_id="K-1").count() == 1

    with override_settings(CALLBACK={**_callback(), "EVENT_KEY_DAYS": 35}):
        assert event_store.keys_purge(now=now + dt.timedelta(days=34)) == 0
        assert event_store.keys_purge(now=now + dt.timedelta(days=36)) == 1
    assert not EventKey.objects.exists()
    [late] = events_ingest(client=client, events=[_event("K-1", account, now)])
    assert late.status == 201  # past the window the id is new again
    assert AccountEvent.objects.filter(event_id="K-1").count() == 2


def _months_ago(months: int) -> dt.datetime:
    today = timezone.now().astimezone(dt.UTC).date()
    index = today.year * 12 + today.month - 1 - months
    return dt.datetime(index // 12, index % 12 + 1, 10, 12, tzinfo=dt.UTC)


def test_it_purges_old_unmatched_events_and_keeps_those_a_visit_points_to(client):
    account = AccountFactory()
    old = _months_ago(14)
    very_old = _months_ago(30)  # before the first partition on PostgreSQL: the DEFAULT one
    recent = _months_ago(12)
    results = events_ingest(
        client=client,
        events=[
            _event("OLD-1", account, old),
            _event("OLD-2", account, old),
            _event("OLD-3", account, very_old),
            _event("OLD-4", account, very_old),
            _event("NEW-1", account, recent),
        ],
    )
    assert [r.status for r in results] == [201] * 5
    visit = VisitFactory(account=account)
    for event_id in ("OLD-2", "OLD-4"):
        VisitTrigger.objects.create(visit=visit, event=AccountEvent.objects.get(event_id=event_id))

    with override_settings(CALLBACK={**_callback(), "EVENT_RETENTION_MONTHS": 13}):
        counts = event_store.events_purge()

    left = set(AccountEvent.objects.values_list("event_id", flat=True))
    assert left == {"OLD-2", "OLD-4", "NEW-1"}
    assert counts["deleted"] == 2
    assert list(visit.events.order_by("event_id").values_list("event_id", flat=True)) == [
        "OLD-2",
        "OLD-4",
    ]
    with override_settings(CALLBACK={**_callback(), "EVENT_RETENTION_MONTHS": 13}):
        assert event_store.events_purge()["deleted"] == 0  # nothing more to do


@pytest.mark.postgres
def test_on_postgresql_a_month_is_purged_by_replacing_its_partition(client):
    assert event_store.partitioned()
    account = AccountFactory()
    old = _months_ago(14)
    events_ingest(
        client=client,
        events=[_event(f"P-{i}", account, old + dt.timedelta(days=i)) for i in range(15)],
    )
    visit = VisitFactory(account=account)
    VisitTrigger.objects.create(visit=visit, event=AccountEvent.objects.get(event_id="P-7"))
    name = f"{event_store.EVENT_TABLE}_p{old:%Y%m}"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {name}")
        assert cursor.fetchone()[0] == 15
    with override_settings(CALLBACK={**_callback(), "EVENT_RETENTION_MONTHS": 13}):
        counts = event_store.events_purge()
    assert (counts["partitions"], counts["kept"], counts["deleted"]) == (1, 1, 14)
    assert name in {n for n, _month in event_store.event_partitions()}  # attached again
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT event_id FROM {name}")
        assert cursor.fetchall() == [("P-7",)]
    # The partition takes new rows of its month again, and ids stay unique across partitions.
    [late] = events_ingest(client=client, events=[_event("P-late", account, old)])
    assert late.status == 201
    assert (
        AccountEvent.objects.filter(pk=AccountEvent.objects.get(event_id="P-late").pk).count() == 1
    )


@pytest.mark.postgres
def test_on_postgresql_idempotency_holds_across_months_and_partitions_are_made_ahead(client):
    account = AccountFactory()
    [first] = events_ingest(client=client, events=[_event("X-1", account, _months_ago(5))])
    [moved] = events_ingest(client=client, events=[_event("X-1", account, _months_ago(1))])
    assert (first.status, moved.status) == (201, 409)
    later = timezone.localdate() + dt.timedelta(days=200)
    created = event_store.event_partitions_ensure(today=later)
    assert created  # the months ahead of a date half a year on did not exist yet
    assert event_store.event_partitions_ensure(today=later) == []
    months = {month for _name, month in event_store.event_partitions()}
    assert later.replace(day=1) in months


def test_a_batch_is_stored_exactly_as_given_whatever_its_text_and_missing_fields(client):
    """The batch writer (COPY on PostgreSQL, column by column) keeps tabs, newlines,
    backslashes and quotes in text and JSON, NULLs, a value shared by every row, and gives a
    missing field its default."""
    account = AccountFactory()
    now = timezone.now()
    odd = 'tab\there, line\nbreak, back\\slash, "quoted", \\N, 中文'
    rows = [
        {
            "client_id": client.pk,
            "event_id": "E-txn",
            "event_type": "transaction",
            "account_id": account.pk,
            "occurred_at": now,
            "received_at": now,
            "body_hash": "a" * 64,
            "data": {"amount": "5.00", "note": odd},
            "amount": Decimal("5.00"),
            "currency": "CNY",
            "txn_kind": "cash",
            "direction": "out",
            "channel": "atm",
        },
        {
            "client_id": client.pk,
            "event_id": "E-complaint",
            "event_type": "complaint",
            "account_id": account.pk,
            "occurred_at": now - dt.timedelta(hours=1),
            "received_at": now,
            "body_hash": "b" * 64,
            "data": {"text": odd, "channel": ""},
            "channel": odd[:10],
        },
        {  # no data, no amount: the defaults
            "client_id": None,
            "event_id": "E-opened",
            "event_type": "account_opened",
            "account_id": account.pk,
            "occurred_at": now,
            "received_at": now,
            "body_hash": "c" * 64,
        },
    ]
    ids = event_store.events_insert(rows)
    assert ids == sorted(ids) and len(set(ids)) == 3
    stored = {e.event_id: e for e in AccountEvent.objects.filter(pk__in=ids)}
    txn, complaint, opened = stored["E-txn"], stored["E-complaint"], stored["E-opened"]
    assert txn.data == {"amount": "5.00", "note": odd}
    assert (txn.amount, txn.txn_kind, txn.client_id) == (Decimal("5.00"), "cash", client.pk)
    assert complaint.data["text"] == odd and complaint.channel == odd[:10]
    assert complaint.amount is None and complaint.currency == ""
    assert (opened.data, opened.amount, opened.client_id, opened.flagged) == ({}, None, None, False)
    assert {e.received_at for e in stored.values()} == {now}
    assert [e.pk for e in event_store.stored_events(rows, ids)] == ids


def test_a_big_batch_repeated_with_new_events_stores_only_the_new_ones(client):
    """From PLAIN_CLAIM_FROM keys the claim is a plain INSERT first; a repeat makes it fail and
    the keys are claimed again skipping the known ones: nothing lost, nothing stored twice."""
    account = AccountFactory()
    at = timezone.now() - dt.timedelta(hours=1)
    size = event_store.PLAIN_CLAIM_FROM + 20
    first = [_event(f"BIG-{i}", account, at) for i in range(size)]
    assert [r.status for r in events_ingest(client=client, events=first)] == [201] * size
    again = first[:50] + [_event(f"NEW-{i}", account, at) for i in range(size - 50)]
    statuses = [r.status for r in events_ingest(client=client, events=again)]
    assert statuses == [200] * 50 + [201] * (size - 50)
    assert AccountEvent.objects.count() == 2 * size - 50
    assert EventKey.objects.count() == 2 * size - 50
