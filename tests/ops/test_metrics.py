"""/metrics: Prometheus text with visits by status, queue lengths, task failures and request
latency per view; readable only from the allowed addresses or with the token."""

import os
import re
import uuid

import pytest
from celery.signals import task_failure
from django.core.cache import cache

from callback_admin import metrics
from tests.factories import VisitFactory

pytestmark = [pytest.mark.django_db, pytest.mark.spec("9.metrics")]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _value(text: str, name: str, **labels) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)"
    match = re.search(r"^" + pattern + "$", text, re.M)
    return float(match.group(1)) if match else None


def _scrape(client, **extra) -> str:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_it_refuses_other_addresses(client):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403


def test_it_accepts_the_token_from_any_address(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    ok = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer scrape-secret")
    bad = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer wrong")
    assert (ok.status_code, bad.status_code) == (200, 403)


def test_it_counts_visits_by_status(client, account, other_account):
    VisitFactory(account=account, status="pending")
    VisitFactory(account=other_account, status="pending")
    VisitFactory(account=account, kind="new_account", status="completed")
    text = _scrape(client)
    assert _value(text, "callback_visits", status="pending") == 2
    assert _value(text, "callback_visits", status="completed") == 1
    assert _value(text, "callback_visits", status="cancelled") == 0


def test_it_reuses_the_visit_counts_for_a_while(
    client, account, other_account, django_assert_num_queries
):
    VisitFactory(account=account, status="pending")
    _scrape(client)
    VisitFactory(account=other_account, status="pending")
    # Cached: the grouped count is not run again (no query at all for the scrape).
    with django_assert_num_queries(0):
        text = _scrape(client)
    assert _value(text, "callback_visits", status="pending") == 1
    cache.delete(metrics.VISITS_CACHE_KEY)
    assert _value(_scrape(client), "callback_visits", status="pending") == 2


def test_it_counts_task_failures_by_task(client):
    class FailingTask:
        # A name of its own: with REDIS_URL set the counter lives in Redis, shared with the
        # other test worker, whose tests fail tasks too.
        name = f"visits.tasks.test_task_{uuid.uuid4().hex}"

    for _ in range(2):
        task_failure.send(sender=FailingTask(), task_id="x", exception=RuntimeError("boom"))
    text = _scrape(client)
    value = _value(text, "callback_celery_task_failures_total", task=FailingTask.name)
    assert value == 2


def test_it_reports_the_queue_length_of_the_filesystem_broker(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    for n in range(3):
        (tmp_path / f"{n}_abc.celery.msg").write_text("{}")
    (tmp_path / "9_abc.other.msg").write_text("{}")
    assert _value(_scrape(client), "callback_celery_queue_length", queue="celery") == 3


@pytest.mark.redis
def test_it_reports_the_queue_length_and_failures_in_redis(client, settings):
    import redis

    url = os.environ["REDIS_URL"]
    settings.CELERY_BROKER_URL = url
    connection = redis.Redis.from_url(url)
    connection.delete("celery", "celery\x06\x163", "unacked", metrics.FAILURES_KEY)
    try:
        connection.rpush("celery", "a", "b")
        connection.rpush("celery\x06\x163", "c")
        connection.hset("unacked", "tag", "m")
        metrics.task_failure_record(task_name="visits.tasks.generate_due_visits_task")
        text = _scrape(client)
        assert _value(text, "callback_celery_queue_length", queue="celery") == 3
        assert _value(text, "callback_celery_unacked") == 1
        assert (
            _value(
                text,
                "callback_celery_task_failures_total",
                task="visits.tasks.generate_due_visits_task",
            )
            == 1
        )
    finally:
        connection.delete("celery", "celery\x06\x163", "unacked", metrics.FAILURES_KEY)


def test_it_keeps_the_other_metrics_when_one_source_fails(client, monkeypatch):
    def broken():
        raise ConnectionError("broker away")

    monkeypatch.setattr(metrics, "queue_lengths", broken)
    text = _scrape(client)
    assert _value(text, "callback_metrics_errors", source="broker") == 1
    assert _value(text, "callback_visits", status="pending") == 0


def test_it_exports_request_latency_per_view(client):
    client.get("/api/v1/health")
    text = _scrape(client)
    count = _value(
        text,
        "django_http_requests_latency_seconds_by_view_method_count",
        method="GET",
        view="api-health",
    )
    assert count is not None and count >= 1
