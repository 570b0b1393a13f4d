"""Exactly once under concurrency (PostgreSQL): two generators at the same moment create each
visit once; two assigners at the same moment never hand out one visit twice and lose none."""

import threading
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction

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


@pytest.mark.spec("4.exactly-once")
def test_a_visit_opened_while_a_chunk_inserts_is_skipped_not_doubled(branch):
    """The chunk's plain INSERT meets the visit another session opened after the anti-join:
    it waits for that session, is refused by the unique index, and is run again with ON
    CONFLICT DO NOTHING: every other account gets its visit, that one keeps the other's."""
    accounts(branch, 50, opened_on=date(2020, 1, 6))  # periodic: long overdue
    target = Account.objects.order_by("pk").last()
    opened, release = threading.Event(), threading.Event()
    errors = []

    def other_session():
        try:
            with transaction.atomic():
                Visit.objects.create(
                    account=target, branch=branch, kind="periodic", due_at=NOW, reason="其他"
                )
                opened.set()
                release.wait(60)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    def generation_waits_for_the_other_session() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE '%%INSERT INTO visits_visit%%'"
            )
            return cursor.fetchone()[0] > 0

    other = threading.Thread(target=other_session)
    other.start()
    assert opened.wait(30)
    result = {}

    def generate():
        try:
            with time_machine.travel(NOW, tick=False):
                result.update(generate_due_visits())
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    generator = threading.Thread(target=generate)
    generator.start()
    deadline = time.monotonic() + 60
    waited = False
    while not waited and time.monotonic() < deadline:
        waited = generation_waits_for_the_other_session()
        time.sleep(0.05)
    release.set()
    other.join()
    generator.join()
    assert errors == []
    assert waited  # the INSERT did meet the other session's visit
    assert result["periodic"] == 49
    assert Visit.objects.filter(kind="periodic").count() == 50
    assert Visit.objects.filter(account=target, kind="periodic").get().reason == "其他"
