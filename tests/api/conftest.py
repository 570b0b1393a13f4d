"""Service clients and helpers for the REST API tests."""

import pytest
import time_machine
from django.core.cache import cache
from rest_framework.test import APIClient

from core.api.auth import service_client_create

# A date inside the loaded official calendar (2026), a Saturday morning in Beijing.
NOW = "2026-11-28T11:00:00+08:00"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def core_banking(db):
    """(ServiceClient, key) with both scopes."""
    return service_client_create(name="core-banking", scopes=["ingest", "read"])


@pytest.fixture
def api(core_banking):
    return _client_with(core_banking[1])


@pytest.fixture
def ingest_only(db):
    _client, key = service_client_create(name="ingest-only", scopes=["ingest"])
    return _client_with(key)


@pytest.fixture
def read_only(db):
    _client, key = service_client_create(name="read-only", scopes=["read"])
    return _client_with(key)


@pytest.fixture
def anonymous():
    return APIClient()


def customer_body(**overrides) -> dict:
    body = {
        "name": "张伟",
        "customer_type": "personal",
        "id_type": "resident_id",
        "id_number": "110101199003074514",
        "id_expiry": "2030-05-01",
        "mobile": "13800138000",
        "email": "zw@example.com",
        "landline": "010-12345678",
        "address": "北京市东城区东长安街1号",
        "risk_level": "low",
        "branch_code": "BJ001",
        "marketing_consent": False,
        "do_not_contact": False,
    }
    body.update(overrides)
    return body


def txn_event(event_id: str, account_number: str, amount: str = "80000.00", **data) -> dict:
    return {
        "event_id": event_id,
        "type": "transaction",
        "account_number": account_number,
        "occurred_at": data.pop("occurred_at", "2026-11-28T10:15:00+08:00"),
        "data": {
            "amount": amount,
            "currency": "CNY",
            "direction": "out",
            "channel": "counter",
            "kind": "cash",
            **data,
        },
    }
