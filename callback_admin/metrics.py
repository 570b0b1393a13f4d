"""Prometheus metrics at /metrics.

Request counts and latencies (by view, so the API's endpoints each have their own) come from
django-prometheus's middleware; with gunicorn they are summed over the workers through
``PROMETHEUS_MULTIPROC_DIR`` (set by callback_admin/gunicorn.conf.py). On top of them this module
exports what no single process knows, read from shared state at scrape time:

- ``callback_visits{status=...}``: visits by status, one grouped count cached for
  ``METRICS_CACHE_SECONDS`` (30 s) in the shared cache, read from the replica when there is one;
- ``callback_celery_queue_length{queue=...}``: messages waiting in the broker, and
  ``callback_celery_unacked`` (taken by a worker, not yet acknowledged);
- ``callback_celery_task_failures_total{task=...}``: tasks that raised, counted by the workers
  (on any machine) in Redis, or in the cache without Redis;
- ``callback_calendar_next_year_missing{year=...}``: 1 from 1 November while next year's holiday
  plan is not loaded (due times in it are provisional until it is).

/metrics answers only to ``METRICS_ALLOWED_IPS`` (127.0.0.1 by default) or to a request carrying
``Authorization: Bearer <METRICS_TOKEN>``.
"""

import hmac
import logging
import os
from pathlib import Path

from celery.signals import task_failure
from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from callback_admin.celery import app
from core.calendar import calendar_status
from core.db_router import reports_db
from visits.models import Visit, VisitStatus

logger = logging.getLogger(__name__)

VISITS_CACHE_KEY = "metrics:visits_by_status"
CALENDAR_CACHE_KEY = "metrics:calendar_status"
FAILURES_KEY = "callback:metrics:task_failures"
# kombu keeps a Redis queue's priorities in separate lists: "celery", "celery\x06\x163", ...
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)
_REDIS_TIMEOUT = 1.0


def _redis():
    """A client of the broker's Redis, or None when the broker is not Redis."""
    url = getattr(settings, "CELERY_BROKER_URL", "") or ""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    import redis

    return redis.Redis.from_url(
        url, socket_timeout=_REDIS_TIMEOUT, socket_connect_timeout=_REDIS_TIMEOUT
    )


# --- Task failures (written by the Celery workers) -----------------------------------------------


def task_failure_record(*, task_name: str) -> None:
    """Adds one to the failure count of a task, where every process can read it."""
    client = _redis()
    if client is not None:
        client.hincrby(FAILURES_KEY, task_name, 1)
        return
    # Without Redis everything runs on one machine; the cache is shared by its processes.
    counts = cache.get(FAILURES_KEY) or {}
    counts[task_name] = counts.get(task_name, 0) + 1
    cache.set(FAILURES_KEY, counts, None)


def task_failure_counts() -> dict[str, int]:
    client = _redis()
    if client is not None:
        raw = client.hgetall(FAILURES_KEY)
        return {name.decode(): int(count) for name, count in raw.items()}
    return dict(cache.get(FAILURES_KEY) or {})


@task_failure.connect(dispatch_uid="callback_metrics_task_failure")
def _on_task_failure(sender=None, **kwargs):
    name = getattr(sender, "name", None) or "unknown"
    try:
        task_failure_record(task_name=name)
    except Exception:  # noqa: BLE001 - counting must never hide the task's own error
        logger.warning("could not count the failure of task %s", name, exc_info=True)


# --- Queue lengths ------------------------------------------------------------------------------


def _queue_names() -> list[str]:
    names = {app.conf.task_default_queue or "celery"}
    for queue in app.conf.task_queues or ():
        names.add(getattr(queue, "name", str(queue)))
    return sorted(names)


def queue_lengths() -> tuple[dict[str, int], int | None]:
    """({queue: messages waiting}, messages unacknowledged or None when unknown)."""
    names = _queue_names()
    client = _redis()
    if client is not None:
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.llen(name)
            for step in _PRIORITY_STEPS:
                pipe.llen(f"{name}{_PRIORITY_SEPARATOR}{step}")
        pipe.hlen("unacked")
        counts = pipe.execute()
        per_queue = 1 + len(_PRIORITY_STEPS)
        lengths = {
            name: sum(counts[i * per_queue : (i + 1) * per_queue]) for i, name in enumerate(names)
        }
        return lengths, counts[-1]
    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in")
    if settings.CELERY_BROKER_URL.startswith("filesystem") and folder and Path(folder).is_dir():
        files = os.listdir(folder)
        return {name: sum(f.endswith(f".{name}.msg") for f in files) for name in names}, None
    return {}, None


# --- Visits by status ---------------------------------------------------------------------------


def visit_counts() -> dict[str, int]:
    """Visits by status: one grouped count, shared by every web process for a short while."""
    counts = cache.get(VISITS_CACHE_KEY)
    if counts is None:
        from django.db.models import Count

        counts = dict.fromkeys(VisitStatus.values, 0)
        rows = (
            Visit.objects.using(reports_db())
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
        )
        counts.update(dict(rows))
        cache.set(VISITS_CACHE_KEY, counts, settings.METRICS_CACHE_SECONDS)
    return counts


class CallbackCollector:
    """The product's own metrics, read at scrape time. A part that fails is left out and counted
    in ``callback_metrics_errors``, so one broken source does not hide the others."""

    def collect(self):
        errors = GaugeMetricFamily(
            "callback_metrics_errors",
            "Sources that could not be read in this scrape",
            labels=["source"],
        )
        try:
            visits = GaugeMetricFamily(
                "callback_visits", "Visits by status (cached briefly)", labels=["status"]
            )
            for status, n in sorted(visit_counts().items()):
                visits.add_metric([status], n)
            yield visits
        except Exception:  # noqa: BLE001
            logger.warning("metrics: visit counts unavailable", exc_info=True)
            errors.add_metric(["visits"], 1)
        try:
            lengths, unacked = queue_lengths()
            queues = GaugeMetricFamily(
                "callback_celery_queue_length", "Celery messages waiting", labels=["queue"]
            )
            for name, n in sorted(lengths.items()):
                queues.add_metric([name], n)
            yield queues
            if unacked is not None:
                yield GaugeMetricFamily(
                    "callback_celery_unacked",
                    "Celery messages taken by a worker and not yet acknowledged",
                    value=unacked,
                )
        except Exception:  # noqa: BLE001
            logger.warning("metrics: queue lengths unavailable", exc_info=True)
            errors.add_metric(["broker"], 1)
        try:
            failures = CounterMetricFamily(
                "callback_celery_task_failures", "Celery tasks that raised", labels=["task"]
            )
            for name, n in sorted(task_failure_counts().items()):
                failures.add_metric([name], n)
            yield failures
        except Exception:  # noqa: BLE001
            logger.warning("metrics: task failures unavailable", exc_info=True)
            errors.add_metric(["task_failures"], 1)
        try:
            yield calendar_metric()
        except Exception:  # noqa: BLE001
            logger.warning("metrics: business calendar unavailable", exc_info=True)
            errors.add_metric(["calendar"], 1)
        yield errors


def calendar_metric() -> GaugeMetricFamily:
    """1 from 1 November while next year's holiday plan is not loaded (the health warning)."""
    today = timezone.localdate()
    status = cache.get(CALENDAR_CACHE_KEY)
    if status is None:
        status = calendar_status(today)
        cache.set(CALENDAR_CACHE_KEY, status, settings.METRICS_CACHE_SECONDS)
    missing = GaugeMetricFamily(
        "callback_calendar_next_year_missing",
        "1 from 1 November while the next year's holiday plan is not loaded",
        labels=["year"],
    )
    missing.add_metric([str(today.year + 1)], 0 if status == "ok" else 1)
    return missing


def _allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())
    return request.META.get("REMOTE_ADDR") in settings.METRICS_ALLOWED_IPS


def process_metrics() -> bytes:
    """django-prometheus's counters: summed over the gunicorn workers when they share a folder."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def metrics(request):
    if not _allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    own = CollectorRegistry(auto_describe=False)
    own.register(CallbackCollector())
    body = process_metrics() + generate_latest(own)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
