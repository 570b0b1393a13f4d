"""Generation split over account ranges (PostgreSQL): several Celery tasks, each in its own
process with its own database session, running at the same time, make exactly the visits one
run makes."""

import multiprocessing
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connections

from accounts.models import Account
from tests.factories import CustomerFactory
from visits.generation import generate_due_visits
from visits.generation_sql import account_ranges
from visits.models import Visit
from visits.tasks import generate_due_visits_range_task

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NOW = datetime(2026, 3, 10, 1, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _range_task(bounds: tuple[int, int]) -> dict:
    """In a forked process: the Celery task run as a worker runs it (apply: same code path,
    retries and serialisation of the arguments included)."""
    connections.close_all()  # never share the parent's socket
    try:
        return generate_due_visits_range_task.apply(args=[*bounds, NOW.isoformat()]).get()
    finally:
        connections.close_all()


def _visits() -> set[tuple]:
    return set(
        Visit.objects.values_list(
            "account_id", "kind", "status", "due_at", "priority", "policy_id", "due_provisional"
        )
    )


def test_generation_as_parallel_range_tasks_makes_what_one_run_makes(branch):
    customers = [
        CustomerFactory(branch=branch, risk_level=("high", "low")[i % 2]) for i in range(6)
    ]
    today = NOW.date()
    Account.objects.bulk_create(
        Account(
            number=f"7{i:015d}",
            customer=customers[i % 6],
            branch=branch,
            account_type=("personal_savings", "corporate")[i % 2],
            status=("active", "active", "dormant", "closed")[i % 4],
            # New accounts of the last days, and old ones whose cycle falls in the horizon.
            opened_on=today - timedelta(days=(i * 17) % 900 if i % 5 else i % 20),
        )
        for i in range(240)
    )
    one = generate_due_visits(now=NOW)
    expected = _visits()
    assert sum(one.values()) == len(expected) > 20  # enough of both kinds to mean something
    assert {kind for _a, kind, *_rest in expected} == {"new_account", "periodic"}
    Visit.objects.all().delete()

    ranges = account_ranges(4)
    assert len(ranges) == 4
    assert ranges[0][0] == 0 and ranges[-1][1] == Account.objects.order_by("-pk").first().pk
    connections.close_all()
    with multiprocessing.get_context("fork").Pool(4) as pool:
        parts = pool.map(_range_task, ranges)
    assert sum(sum(part.values()) for part in parts) == len(expected)
    assert _visits() == expected

    # And a second split run (all ranges again, concurrently) creates nothing more.
    connections.close_all()
    with multiprocessing.get_context("fork").Pool(4) as pool:
        again = pool.map(_range_task, ranges)
    assert sum(sum(part.values()) for part in again) == 0
    assert _visits() == expected
