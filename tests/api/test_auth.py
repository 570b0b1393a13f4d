"""Keys, scopes, revocation, staff sessions, the management commands and the admin page."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from core.api.auth import hash_key, service_client_revoke
from core.models import AuditLogEntry, ServiceClient
from tests.factories import VisitFactory

from .conftest import customer_body

pytestmark = [pytest.mark.spec("6.api-access"), pytest.mark.django_db]


def test_it_answers_401_without_a_key(anonymous, branch):
    response = anonymous.get("/api/v1/visits")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_it_answers_401_for_an_unknown_key(branch):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key-at-all")
    assert client.get("/api/v1/branches").status_code == 401


def test_it_answers_401_for_a_revoked_key(core_banking, api, branch):
    assert api.get("/api/v1/branches").status_code == 200
    service_client_revoke(client=core_banking[0])
    response = api.get("/api/v1/branches")
    assert response.status_code == 401


def test_it_stores_only_the_hash_of_the_key(core_banking):
    client, key = core_banking
    assert client.key_hash == hash_key(key)
    assert key not in (client.key_hash, client.key_prefix)
    assert client.key_prefix == key[:8]


def test_it_records_the_last_use(core_banking, api, branch):
    assert core_banking[0].last_used_at is None
    api.get("/api/v1/branches")
    core_banking[0].refresh_from_db()
    assert core_banking[0].last_used_at is not None


def test_it_needs_the_ingest_scope_to_write(read_only, branch, account):
    assert read_only.put("/api/v1/customers/C1", customer_body(), format="json").status_code == 403
    event = {
        "event_id": "E1",
        "type": "account_closed",
        "account_number": account.number,
        "occurred_at": "2026-11-28T10:00:00+08:00",
    }
    assert read_only.post("/api/v1/events", event, format="json").status_code == 403
    assert (
        read_only.post("/api/v1/events/batch", {"events": [event]}, format="json").status_code
        == 403
    )
    assert not ServiceClient.objects.get(name="read-only").events.exists()


def test_it_needs_the_read_scope_for_visits(ingest_only, account):
    visit = VisitFactory(account=account)
    assert ingest_only.get("/api/v1/visits").status_code == 403
    assert ingest_only.get(f"/api/v1/visits/{visit.pk}").status_code == 403


def test_it_lists_branches_with_either_scope(ingest_only, read_only, branch, other_branch):
    for client in (ingest_only, read_only):
        response = client.get("/api/v1/branches")
        assert response.status_code == 200
        assert [b["code"] for b in response.json()["results"]] == ["BJ001", "SH001"]
        assert response.json()["results"][0] == {"code": "BJ001", "name": "北京分行营业部"}


def test_staff_sessions_read_within_their_scope(agent, other_agent, account, other_account):
    mine = VisitFactory(account=account)
    theirs = VisitFactory(account=other_account)
    client = APIClient()
    client.force_login(agent)
    listing = client.get("/api/v1/visits")
    assert listing.status_code == 200
    assert [v["id"] for v in listing.json()["results"]] == [mine.pk]
    assert client.get(f"/api/v1/visits/{mine.pk}").status_code == 200
    assert client.get(f"/api/v1/visits/{theirs.pk}").status_code == 404
    assert client.get(f"/api/v1/customers/{account.customer.external_id}").status_code == 200
    assert client.get(f"/api/v1/customers/{other_account.customer.external_id}").status_code == 404
    assert [b["code"] for b in client.get("/api/v1/branches").json()["results"]] == ["BJ001"]


def test_staff_sessions_cannot_write(agent, branch):
    client = APIClient()
    client.force_login(agent)
    response = client.put("/api/v1/customers/C1", customer_body(), format="json")
    assert response.status_code == 403


def test_the_command_prints_the_key_alone_on_its_last_line(db, branch):
    out = io.StringIO()
    call_command(
        "create_service_client", "cbs", "--scopes", "ingest,read", stdout=out, stderr=io.StringIO()
    )
    key = out.getvalue().strip().splitlines()[-1]
    client = ServiceClient.objects.get(name="cbs")
    assert client.scopes == ["ingest", "read"]
    assert client.key_hash == hash_key(key)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/branches").status_code == 200
    call_command("revoke_service_client", "cbs", stdout=io.StringIO())
    assert api.get("/api/v1/branches").status_code == 401
    assert AuditLogEntry.objects.filter(action="service_client.revoke").count() == 1


def test_the_command_refuses_unknown_scopes(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_service_client", "bad", "--scopes", "admin", stdout=io.StringIO())
    assert not ServiceClient.objects.filter(name="bad").exists()


def test_the_admin_shows_the_key_once_and_revokes(admin_client):
    response = admin_client.post(
        reverse("admin:core_serviceclient_add"),
        {"name": "cbs-admin", "scope_choices": ["read"]},
        follow=True,
    )
    assert response.status_code == 200
    client = ServiceClient.objects.get(name="cbs-admin")
    messages = [str(m) for m in response.context["messages"]]
    [shown] = [m for m in messages if "密钥" in m]
    key = shown.rsplit("：", 1)[1]
    assert client.key_hash == hash_key(key) and client.scopes == ["read"]
    response = admin_client.post(
        reverse("admin:core_serviceclient_changelist"),
        {"action": "revoke_selected", "_selected_action": [client.pk]},
        follow=True,
    )
    client.refresh_from_db()
    assert not client.is_active and client.revoked_at is not None
