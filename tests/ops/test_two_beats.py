"""Two beat schedulers by mistake (docs/DEPLOYMENT.md): each scheduled job queued twice runs
twice at once, and nothing is done twice. PostgreSQL only (row locks, ON CONFLICT)."""

import threading
from datetime import date

import pytest
from django.db import connection

from tests.factories import AccountFactory, CustomerFactory, VisitFactory
from visits.assignment import assign_visits
from visits.generation import generate_due_visits
from visits.models import Visit

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.spec("4.join-open-visit"),
]


def _twice_at_once(function):
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(function())
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return results


def test_it_generates_each_due_visit_once_when_two_runs_overlap(branch):
    accounts = [
        AccountFactory(customer=CustomerFactory(branch=branch), opened_on=date(2024, 1, 8))
        for _ in range(40)
    ]
    results = _twice_at_once(generate_due_visits)
    open_periodic = Visit.objects.open().filter(kind="periodic", account__in=accounts)
    assert open_periodic.count() == 40
    assert open_periodic.values("account_id").distinct().count() == 40
    assert sum(r["periodic"] for r in results) == 40


def test_it_assigns_each_visit_to_one_agent_when_two_runs_overlap(branch, agent):
    visits = [
        VisitFactory(account=AccountFactory(customer=CustomerFactory(branch=branch)))
        for _ in range(30)
    ]
    results = _twice_at_once(assign_visits)
    assert sum(results) == 30
    statuses = set(
        Visit.objects.filter(pk__in=[v.pk for v in visits]).values_list("status", "assigned_to")
    )
    assert statuses == {("assigned", agent.pk)}
