"""PUT/GET customers and PUT accounts: create or replace, masks, versions, validation, events."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Account, AccountEvent, Customer
from core.models import AuditLogEntry
from visits.models import Visit

from .conftest import customer_body

pytestmark = [pytest.mark.spec("6.api-customers"), pytest.mark.django_db]

ACCOUNT = {
    "customer_external_id": "C0001",
    "account_type": "personal_savings",
    "status": "active",
    "opened_on": "2026-11-25",
    "branch_code": "BJ001",
}


def test_it_creates_then_replaces_a_customer(api, branch):
    created = api.put("/api/v1/customers/C0001", customer_body(), format="json")
    assert created.status_code == 201
    replaced = api.put("/api/v1/customers/C0001", customer_body(name="张三"), format="json")
    assert replaced.status_code == 200
    assert Customer.objects.get(external_id="C0001").name == "张三"
    assert Customer.objects.count() == 1


@pytest.mark.spec("6.masking")
def test_it_masks_personal_data_in_answers(api, branch):
    put = api.put("/api/v1/customers/C0001", customer_body(), format="json").json()
    got = api.get("/api/v1/customers/C0001").json()
    for body in (put, got):
        assert body["id_number"] == "110101********4514"
        assert body["mobile"] == "138****8000"
        assert body["landline"] == "010-****5678"
        assert body["address"] == "北京市东城区****"
        assert "13800138000" not in str(body) and "110101199003074514" not in str(body)
    assert Customer.objects.get().mobile == "13800138000"  # stored in full, encrypted


def test_an_unknown_customer_is_404(api, branch):
    assert api.get("/api/v1/customers/NOPE").status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id_number": "110101199003074515"}, "id_number"),  # wrong check digit
        ({"id_number": "110101199013074514"}, "id_number"),  # month 13
        ({"mobile": "23800138000"}, "mobile"),
        ({"mobile": "1380013800"}, "mobile"),
        ({"branch_code": "XX999"}, "branch_code"),
        ({"customer_type": "alien"}, "customer_type"),
        ({"risk_level": "extreme"}, "risk_level"),
        ({"marketing_consent": "yes"}, "marketing_consent"),
        ({"source_version": "3"}, "source_version"),
        ({"source_version": 2**70}, "source_version"),
        ({"name": 12}, "name"),
        ({"name": "a\u0000b"}, "name"),
        ({"id_expiry": "2030-02-30"}, "id_expiry"),
        ({"nickname": "伟哥"}, "nickname"),
    ],
)
def test_it_rejects_bad_customers_naming_the_field(api, branch, overrides, field):
    response = api.put("/api/v1/customers/C0001", customer_body(**overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Customer.objects.exists()


def test_an_older_source_version_changes_nothing(api, branch):
    api.put("/api/v1/customers/C0001", customer_body(source_version=5), format="json")
    late = api.put(
        "/api/v1/customers/C0001", customer_body(name="旧名", source_version=4), format="json"
    )
    assert late.status_code == 200
    assert late.json()["name"] == "张伟" and late.json()["source_version"] == 5
    newer = api.put(
        "/api/v1/customers/C0001", customer_body(name="新名", source_version=6), format="json"
    )
    assert newer.json()["name"] == "新名"


def test_a_contact_change_is_an_info_changed_event(api, branch, frozen_now):
    api.put("/api/v1/customers/C0001", customer_body(), format="json")
    api.put(
        "/api/v1/accounts/6222020000000001", {**ACCOUNT, "opened_on": "2024-01-02"}, format="json"
    )
    api.put("/api/v1/customers/C0001", customer_body(mobile="13900139000"), format="json")
    event = AccountEvent.objects.get(event_type="info_changed")
    customer = Customer.objects.get()
    change = AuditLogEntry.objects.filter(action="customer.update").latest("pk")
    assert event.event_id == f"auto-info-{customer.pk}-{change.pk}"
    assert event.data == {"fields": ["mobile"]}
    assert (
        Visit.objects.filter(
            kind="special_event", account__in=Account.objects.by_number("6222020000000001")
        ).count()
        == 1
    )
    # A PUT that changes nothing contact-related raises no event.
    api.put(
        "/api/v1/customers/C0001",
        customer_body(mobile="13900139000", risk_level="high"),
        format="json",
    )
    assert AccountEvent.objects.filter(event_type="info_changed").count() == 1


def test_it_creates_then_replaces_an_account(api, branch, frozen_now):
    api.put("/api/v1/customers/C0001", customer_body(), format="json")
    created = api.put("/api/v1/accounts/6222020000000001", ACCOUNT, format="json")
    assert created.status_code == 201
    assert created.json()["customer_external_id"] == "C0001"
    replaced = api.put(
        "/api/v1/accounts/6222020000000001", {**ACCOUNT, "status": "frozen"}, format="json"
    )
    assert replaced.status_code == 200
    assert Account.objects.get().status == "frozen"


@pytest.mark.spec("4.new-account", clause="六.1")
def test_a_new_account_schedules_its_visit_once(api, branch, frozen_now):
    api.put("/api/v1/customers/C0001", customer_body(), format="json")
    api.put("/api/v1/accounts/6222020000000001", ACCOUNT, format="json")
    api.put("/api/v1/accounts/6222020000000001", {**ACCOUNT, "status": "dormant"}, format="json")
    event = AccountEvent.objects.get(event_type="account_opened")
    # Named by the account's id: the number is personal data, the event id is not encrypted.
    assert event.event_id == f"auto-opened-{Account.objects.get().pk}"
    assert Visit.objects.filter(kind="new_account").count() == 1
    # core banking's own account_opened event joins the same visit
    api.post(
        "/api/v1/events",
        {
            "event_id": "CB-OPEN",
            "type": "account_opened",
            "account_number": "6222020000000001",
            "occurred_at": "2026-11-20T09:00:00+08:00",
        },
        format="json",
    )
    assert Visit.objects.filter(kind="new_account").count() == 1


@pytest.mark.spec("4.account-closed")
def test_closing_an_account_by_put_cancels_its_open_visits(api, branch, frozen_now):
    api.put("/api/v1/customers/C0001", customer_body(), format="json")
    api.put("/api/v1/accounts/6222020000000001", ACCOUNT, format="json")
    assert Visit.objects.get(kind="new_account").status == "pending"
    closed = api.put(
        "/api/v1/accounts/6222020000000001", {**ACCOUNT, "status": "closed"}, format="json"
    )
    assert closed.status_code == 200
    visit = Visit.objects.get(kind="new_account")
    assert visit.status == "cancelled"
    event = AccountEvent.objects.get(event_type="account_closed")
    account_id = Account.objects.get().pk
    closing = list(
        AuditLogEntry.objects.filter(action="account.update")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    assert event.event_id == f"auto-closed-{account_id}-{closing[-1]}"
    # the same PUT again changes nothing and raises no second event
    api.put("/api/v1/accounts/6222020000000001", {**ACCOUNT, "status": "closed"}, format="json")
    assert AccountEvent.objects.filter(event_type="account_closed").count() == 1
    # reopened and closed again: a second event, named after the change that closed it
    api.put("/api/v1/accounts/6222020000000001", ACCOUNT, format="json")
    api.put("/api/v1/accounts/6222020000000001", {**ACCOUNT, "status": "closed"}, format="json")
    second = AuditLogEntry.objects.filter(action="account.update").latest("pk").pk
    assert second > closing[-1]
    assert list(
        AccountEvent.objects.filter(event_type="account_closed")
        .values_list("event_id", flat=True)
        .order_by("pk")
    ) == [f"auto-closed-{account_id}-{closing[-1]}", f"auto-closed-{account_id}-{second}"]


@pytest.mark.spec("4.new-account", clause="六.1")
def test_an_old_account_gets_no_new_account_visit(api, branch, frozen_now):
    api.put("/api/v1/customers/C0001", customer_body(), format="json")
    api.put(
        "/api/v1/accounts/6222020000000001", {**ACCOUNT, "opened_on": "2025-03-03"}, format="json"
    )
    assert not AccountEvent.objects.exists()
    assert not Visit.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"customer_external_id": "NOPE"}, "customer_external_id"),
        ({"branch_code": "XX999"}, "branch_code"),
        ({"account_type": "gold"}, "account_type"),
        ({"status": "asleep"}, "status"),
        ({"opened_on": "20-11-2026"}, "opened_on"),
        ({"balance": "1.00"}, "balance"),
    ],
)
def test_it_rejects_bad_accounts_naming_the_field(api, branch, overrides, field):
    api.put("/api/v1/customers/C0001", customer_body(), format="json")
    response = api.put("/api/v1/accounts/6222020000000001", {**ACCOUNT, **overrides}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Account.objects.exists()


def test_writes_are_attributed_to_the_client(api, core_banking, branch):
    api.put("/api/v1/customers/C0001", customer_body(), format="json")
    entry = AuditLogEntry.objects.get(action="customer.create")
    assert entry.client_name == "core-banking"
    assert "13800138000" not in str(entry.after)


def test_paths_have_no_trailing_slash_and_do_not_redirect(api, branch):
    assert api.get("/api/v1/branches/").status_code == 404
    assert api.get("/api/v1/branches").status_code == 200


def test_staff_get_customers_masked(agent, customer):
    client = APIClient()
    client.force_login(agent)
    body = client.get(f"/api/v1/customers/{customer.external_id}").json()
    assert body["mobile"] == "138****8000"
