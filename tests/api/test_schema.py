"""The OpenAPI schema and Swagger UI, and a bounded schemathesis run against the live app."""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.api.auth import service_client_create
from tests.factories import AccountFactory, CustomerFactory

pytestmark = [pytest.mark.spec("6.api-schema")]


@pytest.mark.django_db
def test_the_schema_lists_every_path_of_the_contract(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v1/health",
        "/api/v1/branches",
        "/api/v1/customers/{external_id}",
        "/api/v1/accounts/{account_number}",
        "/api/v1/events",
        "/api/v1/events/batch",
        "/api/v1/visits",
        "/api/v1/visits/{id}",
    }
    put = schema["paths"]["/api/v1/customers/{external_id}"]["put"]
    assert {"200", "201", "400", "401", "403", "413", "429"} <= set(put["responses"])
    events = schema["paths"]["/api/v1/events"]["post"]
    assert {"200", "201", "400", "409"} <= set(events["responses"])
    example = events["requestBody"]["content"]["application/json"]["examples"]
    assert next(iter(example.values()))["value"]["event_id"] == "CB-2026-000001"


@pytest.mark.django_db
def test_swagger_ui_is_served_from_our_own_static_files(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()


@pytest.fixture
def api_schema(db):
    """The schema as the running WSGI app serves it. Like Django's test client, the app must not
    close the test's database connection at the end of each request."""
    from django.core import signals
    from django.db import close_old_connections

    from callback_admin.wsgi import application

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    config = schemathesis.config.SchemathesisConfig.from_dict(
        {
            "seed": 20261128,
            # Coverage phase off: the examples of the contract plus bounded fuzzing (valid and
            # invalid inputs) keep the run under two minutes.
            "phases": {"coverage": {"enabled": False}},
            "generation": {"mode": "all", "max-examples": 20, "deterministic": True},
        }
    )
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/schema/", application, config=config)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def seeded_key(db, branch):
    """The contract's example objects exist, so the examples phase reaches the success paths."""
    customer = CustomerFactory(external_id="C0001", branch=branch)
    AccountFactory(number="6222020000000001", customer=customer)
    return service_client_create(name="schemathesis", scopes=["ingest", "read"])[1]


live = schemathesis.pytest.from_fixture("api_schema")


@live.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
    suppress_health_check=list(HealthCheck),
)
def test_it_conforms_to_its_schema_and_never_fails(case, seeded_key):
    """No 5xx on any generated input; every status code, content type and body is documented."""
    response = case.call(headers={"Authorization": f"Token {seeded_key}"})
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
