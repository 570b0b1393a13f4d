"""Supervision test helpers: records made directly (the call screen is another issue's)."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import Role
from accounts.services import staff_create
from tests.factories import AccountFactory, CustomerFactory, VisitFactory
from tests.fixtures import PASSWORD
from visits.models import VisitRecord, VisitStatus

TZ = timezone.get_fixed_timezone(8 * 60)


def at(year, month, day, hour=10, minute=0):
    return dt.datetime(year, month, day, hour, minute, tzinfo=TZ)


def make_record(
    *,
    agent,
    branch,
    submitted_at,
    satisfaction=None,
    due_at=None,
    completed_at=None,
    kind="periodic",
    channel="phone",
    account=None,
    handling="no_problem",
):
    """A completed visit of a fresh account (or ``account``) at ``branch`` with its record."""
    account = account or AccountFactory(customer=CustomerFactory(branch=branch))
    visit = VisitFactory(
        account=account,
        kind=kind,
        status=VisitStatus.COMPLETED,
        assigned_to=agent,
        due_at=due_at or submitted_at + dt.timedelta(days=1),
        completed_at=completed_at or submitted_at,
    )
    return VisitRecord.objects.create(
        visit=visit,
        channel=channel,
        submitted_at=submitted_at,
        submitted_by=agent,
        reminder_anti_fraud=True,
        reminder_safe_operation=True,
        satisfaction=satisfaction,
        handling=handling,
    )


@pytest.fixture
def agent_factory(branch):
    counter = {"n": 0}

    def create(name=None, branch_=None):
        counter["n"] += 1
        username = name or f"agent_x{counter['n']}"
        return staff_create(
            username=username,
            password=PASSWORD,
            role=Role.AGENT,
            full_name=username,
            branches=[branch_ or branch],
        )

    return create


@pytest.fixture(autouse=True)
def _empty_cache():
    """The dashboard caches closed-day figures under the roll-ups' version token: each test
    starts with none (ids and frozen clocks repeat from test to test)."""
    cache.clear()
    yield
    cache.clear()
