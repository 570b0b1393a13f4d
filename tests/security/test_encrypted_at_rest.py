"""Account numbers, complaint phones, ID numbers and mobiles never reach the database in
plaintext: a ``pg_dump`` of the whole database, taken after the API and the complaint service
stored them (with the visits, events and audit entries they cause), holds none of them, while
every lookup by them still works through the blind indexes."""

import io
import os
import subprocess
from unittest import mock

import pytest
import time_machine
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Account, Customer
from core.api.auth import service_client_create
from core.crypto import blind_index
from supervision.complaints import complaint_register
from supervision.exports import export_rows
from supervision.models import Complaint, ComplaintSource
from tests.api.conftest import customer_body, txn_event
from tests.factories import AccountFactory, CustomerFactory, VisitFactory
from visits.models import Visit


def _resident_id(body17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights)) % 11]
    return body17 + check


CANARY_ID = _resident_id("44030519851207231")
CANARY_MOBILE = "13987651234"
CANARY_ACCOUNT = "6217000012345678901"
CANARY_COMPLAINT_PHONE = "13712349876"
NOW = "2026-11-27T11:00:00+08:00"  # a Friday of the loaded calendar: the account is new


def _api() -> APIClient:
    _client, key = service_client_create(name="core-banking", scopes=["ingest", "read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def _store_the_canaries(api) -> None:
    customer = customer_body(id_number=CANARY_ID, mobile=CANARY_MOBILE)
    assert api.put("/api/v1/customers/C-CANARY", customer, format="json").status_code == 201
    account = {
        "customer_external_id": "C-CANARY",
        "account_type": "personal_savings",
        "status": "active",
        "opened_on": "2026-11-26",
        "branch_code": "BJ001",
    }
    assert api.put(f"/api/v1/accounts/{CANARY_ACCOUNT}", account, format="json").status_code == 201
    batch = {"events": [txn_event("DUMP-1", CANARY_ACCOUNT), txn_event("DUMP-2", CANARY_ACCOUNT)]}
    assert api.post("/api/v1/events/batch", batch, format="json").status_code == 200
    complaint_register(
        source=ComplaintSource.HOTLINE,
        text="回访电话太频繁",
        contact_name="张先生",
        contact_phone=CANARY_COMPLAINT_PHONE,
    )


def _pg_dump() -> str:
    db = connection.settings_dict
    command = ["pg_dump", "--no-owner", "--host", db["HOST"] or "127.0.0.1"]
    command += ["--port", str(db["PORT"] or 5432), "--username", db["USER"], db["NAME"]]
    env = {**os.environ, "PGPASSWORD": db["PASSWORD"] or ""}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.postgres
@pytest.mark.spec("6.pii")
@pytest.mark.django_db(transaction=True)
def test_it_leaves_no_personal_number_in_plaintext_in_a_pg_dump(branch):
    with time_machine.travel(NOW, tick=False):
        api = _api()
        _store_the_canaries(api)
        # Every lookup by the numbers works, through the blind indexes.
        visits = api.get("/api/v1/visits", {"account_number": CANARY_ACCOUNT}).json()["results"]
    account = Account.objects.by_number(CANARY_ACCOUNT).get()
    assert {v["account_number"] for v in visits} == {CANARY_ACCOUNT}
    assert Visit.objects.filter(account=account).count() == len(visits) >= 2
    assert Customer.objects.by_id_number(CANARY_ID).get() == account.customer
    assert Complaint.objects.by_phone(CANARY_COMPLAINT_PHONE).get().contact_name == "张先生"

    dump = _pg_dump()

    # The dump holds the rows (their keys, blind indexes and masked copy) ...
    assert "C-CANARY" in dump and "DUMP-1" in dump and "回访电话太频繁" in dump
    assert blind_index(CANARY_ACCOUNT) in dump and blind_index(CANARY_COMPLAINT_PHONE) in dump
    assert account.number_masked == "6217***********8901" and account.number_masked in dump
    # ... and none of the numbers themselves, anywhere (rows, event ids, audit entries).
    for canary in (CANARY_ACCOUNT, CANARY_COMPLAINT_PHONE, CANARY_ID, CANARY_MOBILE):
        assert canary not in dump, f"{canary} is stored in plaintext"


@pytest.mark.spec("6.pii")
def test_the_complaint_form_stores_the_phone_encrypted(settings, branch):
    settings.ROOT_URLCONF = "tests.supervision.urls"
    body = {"contact_name": "张先生", "contact_phone": CANARY_COMPLAINT_PHONE, "text": "回访太频繁"}
    response = Client().post(reverse("public_complaints:new"), body, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 200
    complaint = Complaint.objects.by_phone(CANARY_COMPLAINT_PHONE).get()
    assert complaint.contact_phone == CANARY_COMPLAINT_PHONE
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT contact_phone, contact_phone_index FROM supervision_complaint WHERE id = %s",
            [complaint.pk],
        )
        stored, index = cursor.fetchone()
    assert stored.startswith("enc1:") and CANARY_COMPLAINT_PHONE not in stored
    assert index == blind_index(CANARY_COMPLAINT_PHONE)


@pytest.mark.spec("6.pii")
def test_the_admin_finds_accounts_visits_and_complaints_by_the_full_number(
    client, administrator, branch
):
    account = AccountFactory(customer=CustomerFactory(branch=branch), number=CANARY_ACCOUNT)
    AccountFactory(customer=account.customer)  # another account: not found
    visit = VisitFactory(account=account)
    complaint = complaint_register(
        source=ComplaintSource.HOTLINE, text="t", contact_phone=CANARY_COMPLAINT_PHONE
    )
    complaint_register(source=ComplaintSource.HOTLINE, text="t", contact_phone="13700000000")
    client.force_login(administrator)
    for name, term, found in (
        ("accounts_account", f" {CANARY_ACCOUNT} ", account),
        ("visits_visit", CANARY_ACCOUNT, visit),
        ("supervision_complaint", CANARY_COMPLAINT_PHONE, complaint),
    ):
        page = client.get(reverse(f"admin:{name}_changelist"), {"q": term})
        assert page.status_code == 200
        assert [row.pk for row in page.context["cl"].result_list] == [found.pk], name
    page = client.get(reverse("admin:accounts_account_changelist"), {"q": CANARY_ACCOUNT[:-1]})
    assert list(page.context["cl"].result_list) == []  # exact numbers only


@pytest.mark.spec("6.pii")
def test_lists_and_masked_exports_decrypt_no_account_number(client, agent, branch):
    account = AccountFactory(customer=CustomerFactory(branch=branch), number=CANARY_ACCOUNT)
    VisitFactory(account=account, assigned_to=agent)
    client.force_login(agent)
    with mock.patch("core.crypto.decrypt", side_effect=AssertionError("decrypted")):
        worklist = client.get(reverse("workspace:worklist"))
        rows = list(export_rows("visits", Visit.objects.order_by("pk"), unmasked=False))
        with pytest.raises(AssertionError, match="decrypted"):  # the probe works
            Account.objects.get(pk=account.pk)
    assert worklist.status_code == 200
    assert "6217***********8901" in worklist.content.decode()
    assert rows[0][4] == "6217***********8901"
    unmasked = list(export_rows("visits", Visit.objects.order_by("pk"), unmasked=True))
    assert unmasked[0][4] == CANARY_ACCOUNT


@pytest.mark.spec("6.pii")
def test_rotating_the_keys_re_encrypts_account_numbers_and_complaint_phones(branch, settings):
    account = AccountFactory(customer=CustomerFactory(branch=branch), number=CANARY_ACCOUNT)
    complaint = complaint_register(
        source=ComplaintSource.HOTLINE, text="t", contact_phone=CANARY_COMPLAINT_PHONE
    )
    sql = (
        "SELECT (SELECT number FROM accounts_account WHERE id = %s), "
        "(SELECT contact_phone FROM supervision_complaint WHERE id = %s)"
    )

    def stored():
        with connection.cursor() as cursor:
            cursor.execute(sql, [account.pk, complaint.pk])
            return cursor.fetchone()

    before = stored()
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_field_keys", chunk=1, stdout=io.StringIO())
    after = stored()
    assert all(a.startswith("enc1:") and a != b for a, b in zip(after, before))
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key dropped: still readable
    assert Account.objects.by_number(CANARY_ACCOUNT).get().number == CANARY_ACCOUNT
    assert Complaint.objects.get(pk=complaint.pk).contact_phone == CANARY_COMPLAINT_PHONE


@pytest.mark.spec("6.pii")
def test_the_admin_refuses_a_second_account_with_the_same_number(client, administrator, branch):
    first = AccountFactory(customer=CustomerFactory(branch=branch), number=CANARY_ACCOUNT)
    second = AccountFactory(customer=first.customer)
    administrator.is_superuser = True  # the administrators' group only views accounts
    administrator.save(update_fields=["is_superuser"])
    client.force_login(administrator)
    body = {
        "number": f" {CANARY_ACCOUNT}",  # the first account's number, as a blind index sees it
        "customer": second.customer_id,
        "account_type": "personal_savings",
        "status": "active",
        "opened_on": "2026-11-02",
        "branch": branch.pk,
    }
    page = client.post(reverse("admin:accounts_account_change", args=[second.pk]), body)
    assert page.status_code == 200
    assert "number" in page.context["adminform"].form.errors
    assert Account.objects.get(pk=second.pk).number == second.number
