"""Personal data: encrypted at rest with blind-index lookups, masked by default, each reveal
logged, and never in full in application logs or error reports."""

import logging
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse
from django.views.debug import get_exception_reporter_class

from accounts.models import Customer
from accounts.pii import reveal
from core.api.auth import service_client_create
from core.crypto import decrypt
from core.models import AuditLogEntry
from tests.factories import AccountFactory, CustomerFactory, VisitFactory


def _resident_id(body17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights)) % 11]
    return body17 + check


CANARY_ID = _resident_id("44030519851207231")
CANARY_MOBILE = "13987651234"
CANARY_ACCOUNT = "6217000012345678901"
CANARIES = (CANARY_ID, CANARY_MOBILE, CANARY_ACCOUNT)


def _raw(customer_pk: int) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_number, mobile, landline, address, id_number_hash, mobile_hash "
            "FROM accounts_customer WHERE id = %s",
            [customer_pk],
        )
        return cursor.fetchone()


@pytest.mark.spec("6.pii", clause="三.4")
def test_it_stores_no_plaintext_in_the_encrypted_columns(branch):
    customer = CustomerFactory(
        branch=branch, id_number=CANARY_ID, mobile=CANARY_MOBILE, address="深圳市南山区科技园"
    )
    row = _raw(customer.pk)
    for stored, plain in zip(
        row[:4], (CANARY_ID, CANARY_MOBILE, "010-12345678", "深圳市南山区科技园")
    ):
        assert stored.startswith("enc1:") and plain not in stored
        assert decrypt(stored) == plain
    assert CANARY_ID not in row[4] and len(row[4]) == 64


@pytest.mark.spec("6.pii")
def test_it_finds_a_customer_by_id_number_and_mobile(branch):
    customer = CustomerFactory(branch=branch, id_number=CANARY_ID, mobile=CANARY_MOBILE)
    CustomerFactory(branch=branch)
    assert list(Customer.objects.by_id_number(CANARY_ID.lower())) == [customer]
    assert list(Customer.objects.by_mobile(f" {CANARY_MOBILE} ")) == [customer]
    assert not Customer.objects.by_id_number(_resident_id("44030519851207232")).exists()


@pytest.mark.spec("6.pii")
def test_it_re_encrypts_with_a_new_key(branch, settings):
    customer = CustomerFactory(branch=branch, id_number=CANARY_ID, mobile=CANARY_MOBILE)
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    before = _raw(customer.pk)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_field_keys", chunk=1)
    after = _raw(customer.pk)
    assert after[0] != before[0] and after[4] == before[4]  # blind index unchanged
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # old key dropped: still readable
    assert Customer.objects.get(pk=customer.pk).id_number == CANARY_ID


@pytest.mark.spec("6.pii")
def test_it_logs_every_reveal_and_refuses_roles_not_allowed(rf, agent, handler, branch):
    customer = CustomerFactory(branch=branch, mobile=CANARY_MOBILE)
    request = rf.get("/", REMOTE_ADDR="10.1.2.3")
    request.user = agent
    assert reveal(user=agent, customer=customer, field="mobile", request=request) == CANARY_MOBILE
    entry = AuditLogEntry.objects.get(action="pii.reveal")
    assert (entry.actor, entry.ip, entry.after["fields"]) == (agent, "10.1.2.3", ["mobile"])
    assert CANARY_MOBILE not in str(entry.after)
    with pytest.raises(PermissionDenied):
        reveal(user=handler, customer=customer, field="mobile")
    assert AuditLogEntry.objects.filter(action="pii.reveal").count() == 1


@pytest.mark.spec("6.pii")
def test_it_masks_personal_numbers_in_error_reports(rf, settings):
    request = rf.get(f"/api/v1/customers/{CANARY_ID}", {"mobile": CANARY_MOBILE})
    try:
        raise ValueError(f"account {CANARY_ACCOUNT} not found for {CANARY_MOBILE}")
    except ValueError:
        reporter = get_exception_reporter_class(request)(request, *sys.exc_info())
        text = reporter.get_traceback_text()
        html = reporter.get_traceback_html()
    for canary in CANARIES:
        assert canary not in text and canary not in html
    assert "6217***********8901" in text


def _all_log_text(caplog, capfd) -> str:
    out, err = capfd.readouterr()
    parts = [out, err, caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(str(record.exc_text or ""))
        parts.append(repr({k: v for k, v in record.__dict__.items() if k != "request"}))
    return "\n".join(parts)


@pytest.mark.spec("6.no-pii-in-logs")
def test_it_never_logs_a_canary_in_full(client, caplog, capfd, branch, agent, teller, supervisor):
    caplog.set_level(logging.DEBUG)
    _client, key = service_client_create(name="core", scopes=["ingest", "read"])
    api = {"HTTP_AUTHORIZATION": f"Token {key}", "content_type": "application/json"}
    # API: create a customer and an account, an event, and some refused requests.
    client.put(
        "/api/v1/customers/C-CANARY",
        {
            "name": "金丝雀",
            "customer_type": "personal",
            "id_type": "resident_id",
            "id_number": CANARY_ID,
            "mobile": CANARY_MOBILE,
            "branch_code": branch.code,
        },
        **api,
    )
    client.put(
        f"/api/v1/accounts/{CANARY_ACCOUNT}",
        {
            "customer_external_id": "C-CANARY",
            "account_type": "personal_savings",
            "opened_on": "2026-01-05",
            "branch_code": branch.code,
        },
        **api,
    )
    client.post(
        "/api/v1/events",
        {
            "event_id": "EV-CANARY",
            "type": "transaction",
            "account_number": CANARY_ACCOUNT,
            "occurred_at": "2026-11-20T10:00:00+08:00",
            "data": {
                "amount": "60000.00",
                "currency": "CNY",
                "direction": "out",
                "channel": "counter",
                "kind": "cash",
            },
        },
        **api,
    )
    client.put(f"/api/v1/customers/{CANARY_ID}", {"id_number": CANARY_MOBILE}, **api)  # 400
    client.get(f"/api/v1/accounts/{CANARY_ACCOUNT}x", **api)  # 404
    # Teller page: an account number typed in.
    client.force_login(teller)
    client.post(
        reverse("workspace:teller"),
        {"account_number": CANARY_ACCOUNT, "event_type": "info_changed", "text": CANARY_MOBILE},
    )
    # Call screen and reveal.
    customer = Customer.objects.by_id_number(CANARY_ID).first() or CustomerFactory(
        branch=branch, id_number=CANARY_ID, mobile=CANARY_MOBILE
    )
    account = customer.accounts.first() or AccountFactory(customer=customer, number=CANARY_ACCOUNT)
    visit = VisitFactory(account=account, assigned_to=agent, status="assigned")
    client.force_login(agent)
    client.get(reverse("workspace:call_screen", args=[visit.pk]))
    client.post(reverse("workspace:reveal", args=[visit.pk]))
    client.get(reverse("workspace:reveal", args=[visit.pk]))
    # Export.
    client.force_login(supervisor)
    client.get(reverse("supervision:export", args=["visits", "csv"]))
    client.get(reverse("supervision:export", args=["visits", "csv"]), {"unmasked": "1"})
    # And a log line that carries all three, as careless code might write.
    logging.getLogger("callback.careless").warning(
        "customer %s mobile %s account %s", CANARY_ID, CANARY_MOBILE, CANARY_ACCOUNT
    )
    try:
        raise RuntimeError(f"boom {CANARY_ACCOUNT}")
    except RuntimeError:
        logging.getLogger("callback.careless").exception("failed for %s", CANARY_MOBILE)

    logged = _all_log_text(caplog, capfd)
    assert len(caplog.records) >= 3  # the flows did log
    assert "139****1234" in logged  # the careless line arrived, masked
    for canary in CANARIES:
        assert canary not in logged, canary
    assert AuditLogEntry.objects.exists()
    for entry in AuditLogEntry.objects.all():
        for canary in CANARIES:
            assert canary not in f"{entry.before} {entry.after} {entry.object_id}", entry.action


@pytest.fixture
def rf():
    return RequestFactory()
