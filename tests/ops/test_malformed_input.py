"""Garbage in headers never reaches the database: no 500."""

import pytest

from core.api.auth import service_client_create

pytestmark = pytest.mark.django_db


def test_it_ignores_a_session_cookie_with_a_nul_byte(client):
    client.cookies["sessionid"] = "abc\x00def"
    assert client.get("/api/v1/visits").status_code in (401, 403)
    assert client.get("/visits/").status_code == 302


def test_it_refuses_a_token_with_control_characters(client):
    service_client_create(name="core", scopes=["read"])
    response = client.get("/api/v1/visits", HTTP_AUTHORIZATION="Token abc\x00\x01def")
    assert response.status_code == 401


def test_it_answers_404_for_a_customer_id_with_a_nul_byte(client):
    _client, key = service_client_create(name="core2", scopes=["read", "ingest"])
    response = client.get("/api/v1/customers/C%00001", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 404
