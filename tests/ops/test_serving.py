"""Production serving: the replica router, 503 on a database outage, the health check naming
the part that is down, the JSON access log, and static files with vendored source maps."""

import json
import logging
import runpy
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import OperationalError, connections, transaction
from django.test import RequestFactory

from core import db_router
from core.middleware import DatabaseUnavailableMiddleware

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def with_replica(monkeypatch):
    monkeypatch.setattr(db_router, "replica_configured", lambda: True)


@pytest.mark.spec("9.replica")
class TestReplicaRouter:
    router = db_router.ReplicaRouter()

    def test_it_reads_from_the_primary_by_default(self, with_replica):
        assert self.router.db_for_read(None) == "default"

    def test_it_reads_reports_from_the_replica(self, with_replica):
        with db_router.replica_reads():
            assert self.router.db_for_read(None) == "replica"
        assert self.router.db_for_read(None) == "default"

    @pytest.mark.django_db(transaction=True)
    def test_it_keeps_reads_inside_a_transaction_on_the_primary(self, with_replica):
        with db_router.replica_reads(), transaction.atomic():
            assert connections["default"].in_atomic_block
            assert self.router.db_for_read(None) == "default"

    def test_it_never_writes_or_migrates_on_the_replica(self, with_replica):
        with db_router.replica_reads():
            assert self.router.db_for_write(None) == "default"
        assert self.router.allow_migrate("replica", "visits") is False
        assert self.router.allow_migrate("default", "visits") is True

    def test_it_uses_the_primary_without_a_replica(self):
        with db_router.replica_reads():
            assert self.router.db_for_read(None) == "default"
        assert db_router.reports_db() == "default"


@pytest.mark.spec("9.health")
class TestOutages:
    def test_it_answers_503_with_retry_after_when_the_database_is_down(self):
        middleware = DatabaseUnavailableMiddleware(lambda request: None)
        api = middleware.process_exception(
            RequestFactory().post("/api/v1/events"), OperationalError("server closed")
        )
        page = middleware.process_exception(RequestFactory().get("/visits/"), OperationalError())
        assert (api.status_code, api["Retry-After"]) == (503, "5")
        assert "detail" in json.loads(api.content)
        assert page.status_code == 503

    def test_it_leaves_other_errors_alone(self):
        middleware = DatabaseUnavailableMiddleware(lambda request: None)
        assert middleware.process_exception(RequestFactory().get("/"), ValueError()) is None

    @pytest.mark.django_db
    def test_it_names_the_broker_when_it_is_down_within_seconds(self, client, monkeypatch):
        from callback_admin.celery import app

        # Nothing listens on port 1: the broker is down.
        monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
        monkeypatch.setattr(app.conf, "broker_write_url", "redis://127.0.0.1:1/0")
        started = time.monotonic()
        response = client.get("/api/v1/health")
        assert time.monotonic() - started < 3
        assert response.status_code == 503
        body = response.json()
        assert (body["database"], body["broker"]) == ("ok", "down")
        assert set(body) == {"database", "broker", "calendar"}  # the calendar is no outage


@pytest.mark.spec("9.logs")
def test_it_writes_the_access_log_as_json_with_the_request_id(caplog):
    conf = runpy.run_path(str(ROOT / "callback_admin" / "gunicorn.conf.py"))
    cfg = SimpleNamespace(
        accesslog="-", logconfig=None, syslog=False, errorlog="-", loglevel="info",
        capture_output=False, logconfig_dict={}, logconfig_json=None, syslog_addr=None,
        disable_redirect_access_to_syslog=False, user=0, group=0, umask=0,
    )  # fmt: skip
    logger = conf["JsonAccessLogger"].__new__(conf["JsonAccessLogger"])
    logger.cfg = cfg
    logger.access_log = logging.getLogger("test.gunicorn.access")
    response = SimpleNamespace(status="201 Created", headers=[("X-Request-ID", "req-42")], sent=17)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": '/api/v1/events"',
        "QUERY_STRING": "account=6222020000000001",
        "REMOTE_ADDR": "10.0.0.5",
    }
    from datetime import timedelta

    with caplog.at_level(logging.INFO, logger="test.gunicorn.access"):
        logger.access(response, None, environ, timedelta(milliseconds=12.5))
    line = json.loads(caplog.records[-1].getMessage())
    assert line["request_id"] == "req-42"
    assert (line["status"], line["method"], line["duration_ms"]) == (201, "POST", 12.5)
    assert line["path"] == '/api/v1/events"'  # escaped, still one valid JSON object
    assert "6222020000000001" not in caplog.records[-1].getMessage()
    assert conf["workers"] >= 1 and conf["wsgi_app"] == "callback_admin.wsgi:application"
    # An account number in the path is masked to its last four digits.
    environ = {**environ, "PATH_INFO": "/api/v1/accounts/6222020000000001"}
    with caplog.at_level(logging.INFO, logger="test.gunicorn.access"):
        logger.access(response, None, environ, timedelta(milliseconds=1))
    line = json.loads(caplog.records[-1].getMessage())
    assert line["path"] == "/api/v1/accounts/************0001"


@pytest.mark.spec("9.static")
def test_it_collects_vendored_files_with_missing_source_maps():
    from core.storage import StaticFilesStorage

    rules = [
        rule if isinstance(rule, str) else rule[0]
        for _, rules in StaticFilesStorage.patterns
        for rule in rules
    ]
    assert not any("sourceMappingURL" in rule for rule in rules)
    assert any("url\\(" in rule for rule in rules)  # CSS url() references are still hashed


@pytest.mark.spec("9.replica")
def test_it_routes_the_dashboard_and_exports_to_the_replica(with_replica, settings):
    from django.urls import ResolverMatch

    seen = []
    middleware = db_router.ReplicaReadsMiddleware(
        lambda request: seen.append(db_router.ReplicaRouter().db_for_read(None)) or "response"
    )

    def call(method, view_name):
        request = getattr(RequestFactory(), method.lower())("/x/")
        request.resolver_match = ResolverMatch(
            lambda r: None,
            (),
            {},
            url_name=view_name.split(":")[1],
            app_names=[view_name.split(":")[0]],
            namespaces=[view_name.split(":")[0]],
        )

        def get_response(req):
            middleware.process_view(req, None, (), {})
            seen.append(db_router.ReplicaRouter().db_for_read(None))
            return "response"

        middleware.get_response = get_response
        middleware(request)
        seen.append(db_router.ReplicaRouter().db_for_read(None))  # after the view

    call("GET", "supervision:dashboard")
    call("POST", "supervision:export")
    call("GET", "workspace:worklist")
    assert seen == ["replica", "default", "default", "default", "default", "default"]
