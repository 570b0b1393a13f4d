"""The events' references to accounts and service clients (PostgreSQL): checked once per
statement by triggers instead of a foreign key's check of each row, with the same guarantees:
no event names a missing account or client, however it is written (COPY, INSERT, UPDATE), no
account or client named by an event can be deleted or renumbered, and the accounts an event
names stay locked against deletion until its transaction ends."""

import threading

import psycopg2
import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Account, AccountEvent, EventKey
from core.api.auth import service_client_create
from core.models import ServiceClient
from tests.factories import AccountFactory
from visits import event_store

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _row(account_id: int, client_id: int | None, event_id: str) -> dict:
    return {
        "client_id": client_id,
        "created_by_id": None,
        "event_id": event_id,
        "event_type": "transaction",
        "account_id": account_id,
        "occurred_at": timezone.now(),
        "received_at": timezone.now(),
        "body_hash": "0" * 64,
        "data": {},
        "amount": "10.00",
        "currency": "CNY",
        "txn_kind": "cash",
        "direction": "out",
        "channel": "atm",
    }


def _no_account_id() -> int:
    return (Account.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000


def test_the_batch_copy_refuses_an_event_of_a_missing_account_and_keeps_nothing():
    account = AccountFactory()
    client, _key = service_client_create(name="core", scopes=["ingest"])
    rows = [_row(account.pk, client.pk, "E-1"), _row(_no_account_id(), client.pk, "E-2")]
    with pytest.raises(IntegrityError, match="accounts_account"), transaction.atomic():
        event_store.events_insert(rows)
    assert not AccountEvent.objects.exists()
    # The same batch without the stray row is stored.
    with transaction.atomic():
        event_store.events_insert(rows[:1])
    assert AccountEvent.objects.get().account_id == account.pk


def test_an_insert_or_update_naming_a_missing_client_is_refused():
    account = AccountFactory()
    with pytest.raises(IntegrityError, match="core_serviceclient"), transaction.atomic():
        event_store.events_insert([_row(account.pk, 987654, "E-1")])
    event = AccountEvent.objects.create(
        account=account, event_id="E-2", event_type="complaint", occurred_at=timezone.now()
    )
    with pytest.raises(IntegrityError, match="core_serviceclient"), transaction.atomic():
        AccountEvent.objects.filter(pk=event.pk).update(client_id=987654)
    with pytest.raises(IntegrityError, match="accounts_account"), transaction.atomic():
        AccountEvent.objects.filter(pk=event.pk).update(account_id=_no_account_id())
    event.refresh_from_db()
    assert (event.account_id, event.client_id) == (account.pk, None)


def test_an_account_or_client_named_by_an_event_cannot_be_deleted_or_renumbered():
    account, spare = AccountFactory(), AccountFactory()
    client, _key = service_client_create(name="core", scopes=["ingest"])
    with transaction.atomic():
        event_store.events_insert([_row(account.pk, client.pk, "E-1")])
    with connection.cursor() as cursor:
        for sql, params in (
            ("DELETE FROM accounts_account WHERE id = %s", [account.pk]),
            ("UPDATE accounts_account SET id = %s WHERE id = %s", [_no_account_id(), account.pk]),
            ("DELETE FROM core_serviceclient WHERE id = %s", [client.pk]),
        ):
            with pytest.raises(IntegrityError), transaction.atomic():
                cursor.execute(sql, params)
        # An account no event names can still go, and an update that keeps ids is no matter.
        cursor.execute("UPDATE accounts_account SET status = status WHERE id = %s", [account.pk])
        cursor.execute("DELETE FROM accounts_account WHERE id = %s", [spare.pk])
    assert Account.objects.filter(pk=account.pk).exists()
    assert ServiceClient.objects.filter(pk=client.pk).exists()
    assert not Account.objects.filter(pk=spare.pk).exists()


def test_the_account_of_an_event_being_written_cannot_be_deleted_until_it_commits():
    account = AccountFactory()
    db = connection.settings_dict
    outcome: dict = {}
    written, checked = threading.Event(), threading.Event()

    def other_session():
        conn = psycopg2.connect(
            dbname=db["NAME"],
            user=db["USER"],
            password=db["PASSWORD"],
            host=db["HOST"],
            port=db["PORT"],
        )
        try:
            written.wait(10)
            with conn.cursor() as cursor:
                cursor.execute("SET lock_timeout = '300ms'")
                try:
                    cursor.execute("DELETE FROM accounts_account WHERE id = %s", [account.pk])
                    outcome["deleted"] = True
                except psycopg2.errors.LockNotAvailable:
                    outcome["deleted"] = False
            conn.rollback()
        finally:
            conn.close()
            checked.set()

    thread = threading.Thread(target=other_session)
    thread.start()
    with transaction.atomic():
        event_store.events_insert([_row(account.pk, None, "E-1")])
        written.set()
        assert checked.wait(10)
    thread.join()
    assert outcome == {"deleted": False}  # it waited for the lock the check holds
    assert AccountEvent.objects.filter(account=account).count() == 1


def test_the_triggers_replace_the_row_by_row_foreign_keys():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE conrelid IN ('accounts_accountevent'::regclass, 'accounts_eventkey'::regclass) "
            "AND contype = 'f'"
        )
        assert cursor.fetchall() == [
            ("accounts_accountevent", "accounts_accountevent_created_by_id_fk")
        ]
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
            "WHERE tgname LIKE 'ref\\_%%' AND NOT tgisinternal AND tgparentid = 0 ORDER BY 1, 2"
        )
        assert cursor.fetchall() == [
            ("accounts_account", "ref_event_account_target_delete"),
            ("accounts_account", "ref_event_account_target_update"),
            ("accounts_accountevent", "ref_event_account_insert"),
            ("accounts_accountevent", "ref_event_account_update"),
            ("accounts_accountevent", "ref_event_client_insert"),
            ("accounts_accountevent", "ref_event_client_update"),
            ("accounts_eventkey", "ref_eventkey_client_insert"),
            ("accounts_eventkey", "ref_eventkey_client_update"),
            ("core_serviceclient", "ref_event_client_target_delete"),
            ("core_serviceclient", "ref_event_client_target_update"),
            ("core_serviceclient", "ref_eventkey_client_target_delete"),
            ("core_serviceclient", "ref_eventkey_client_target_update"),
        ]


def test_a_key_naming_a_missing_client_is_refused_and_a_client_with_keys_stays():
    client, _key = service_client_create(name="core", scopes=["ingest"])
    with transaction.atomic():
        claimed = event_store.keys_claim(client=client, keys=[("E-1", "h")], now=timezone.now())
    assert claimed == {"E-1"}
    ghost = ServiceClient(pk=987654)
    with pytest.raises(IntegrityError, match="core_serviceclient"), transaction.atomic():
        event_store.keys_claim(client=ghost, keys=[("E-2", "h")], now=timezone.now())
    with connection.cursor() as cursor, pytest.raises(IntegrityError), transaction.atomic():
        cursor.execute("DELETE FROM core_serviceclient WHERE id = %s", [client.pk])
    assert EventKey.objects.filter(client=client).count() == 1
    # The ORM deletes a client's keys first (CASCADE), and then the client may go.
    client.delete()
    assert not EventKey.objects.exists()
    assert not ServiceClient.objects.filter(pk=client.pk).exists()


def test_a_session_takes_event_ids_a_thousand_at_a_time():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seqcache FROM pg_sequence WHERE seqrelid = "
            "pg_get_serial_sequence('accounts_accountevent', 'id')::regclass"
        )
        assert cursor.fetchone() == (1000,)
    account = AccountFactory()
    with transaction.atomic():
        first = event_store.events_insert([_row(account.pk, None, f"E-{i}") for i in range(3)])
    with transaction.atomic():
        second = event_store.events_insert([_row(account.pk, None, f"F-{i}") for i in range(3)])
    assert first + second == sorted(first + second)  # ascending within a session
    assert len(set(first + second)) == 6


def test_a_batch_finds_its_accounts_through_the_hash_index_of_their_numbers():
    from visits.rules import account_facts_by_index

    accounts = [AccountFactory() for _ in range(3)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is too small to matter
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM accounts_account WHERE number_index = %s",
            [accounts[0].number_index],
        )
        plan = " ".join(row[0] for row in cursor.fetchall())
    assert "account_number_index_hash" in plan
    found = account_facts_by_index([a.number_index for a in accounts])
    assert {facts.pk for facts in found.values()} == {a.pk for a in accounts}
