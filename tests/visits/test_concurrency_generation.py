"""Exactly once under concurrency (PostgreSQL): two generators at the same moment create each
visit once; two assigners at the same moment never hand out one visit twice and lose none."""

import threading
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from accounts.models import Account, Role
from accounts.services import staff_create
from tests.factories import CustomerFactory
from tests.fixtures import PASSWORD
from visits.assignment import assign_visits
from visits.generation import generate_due_visits
from visits.models import Visit

# The seeded calendar, policies and rules are put back after flushes by tests/fixtures.py.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)


def run_together(function, n=2):
    """Run ``function`` in ``n`` threads (each with its own database session) released at the
    same moment by a barrier; return their results."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def work(i):
        try:
            barrier.wait()
            results[i] = function()
        except Exception as exc:  # reported below, not swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def accounts(branch, n, *, opened_on):
    customers = [CustomerFactory(branch=branch) for _ in range(5)]
    Account.objects.bulk_create(
        Account(
            number=f"9{i:015d}{opened_on:%y%m%d}",
            customer=customers[i % 5],
            branch=branch,
            account_type=("personal_savings", "corporate", "special")[i % 3],
            opened_on=opened_on,
        )
        for i in range(n)
    )


@pytest.mark.spec("4.exactly-once")
def test_two_generators_at_once_create_what_one_creates(branch, settings):
    settings.CALLBACK = {**settings.CALLBACK, "GENERATION_CHUNK_SIZE": 400}
    accounts(branch, 3000, opened_on=date(2020, 1, 6))  # periodic: long overdue
    accounts(branch, 300, opened_on=date(2026, 3, 6))  # new accounts
    with time_machine.travel(NOW, tick=False):
        first, second = run_together(generate_due_visits)
    assert first["periodic"] + second["periodic"] == 3000
    assert first["new_account"] + second["new_account"] == 300
    assert Visit.objects.filter(kind="periodic").count() == 3000
    assert Visit.objects.filter(kind="new_account").count() == 300
    assert Visit.objects.values("account_id", "kind").distinct().count() == 3300
    with time_machine.travel(NOW, tick=False):
        assert generate_due_visits() == {"new_account": 0, "periodic": 0}


@pytest.mark.spec("4.exactly-once")
def test_two_assigners_at_once_give_each_visit_to_one_agent_and_lose_none(branch):
    agents = [
        staff_create(username=f"agent{i}", password=PASSWORD, role=Role.AGENT, branches=[branch])
        for i in range(4)
    ]
    accounts(branch, 2000, opened_on=date(2020, 1, 6))
    with time_machine.travel(NOW, tick=False):
        generate_due_visits()
    assert Visit.objects.filter(status="pending").count() == 2000
    first, second = run_together(lambda: assign_visits(batch_size=50))
    assert first + second == 2000  # a visit handed out twice would be counted twice
    assert first > 0 and second > 0  # both really worked, on different rows
    assert not Visit.objects.filter(status="pending").exists()
    assert Visit.objects.filter(status="assigned", assigned_to__in=agents).count() == 2000
    loads = [Visit.objects.filter(assigned_to=a).count() for a in agents]
    assert max(loads) - min(loads) <= 100  # by load, even with two stale views of it
