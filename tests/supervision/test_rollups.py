"""Daily roll-ups of visits: kept equal to a full recount by the watermark refresh and the
nightly reconciliation, and read by the dashboard for closed days."""

import datetime as dt
import random

import pytest
import time_machine
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Role
from accounts.services import staff_create
from supervision.models import VisitDayRollup
from supervision.rollups import rollups_reconcile, rollups_refresh
from supervision.selectors import dashboard_data
from tests.factories import AccountFactory, BranchFactory, VisitFactory
from visits.models import OPEN_VISIT_STATUSES, Visit

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
KINDS = ["periodic", "new_account", "special_event", "follow_up"]


def _recount() -> dict:
    tz = timezone.get_current_timezone()
    rows = (
        Visit.objects.order_by()
        .annotate(day=TruncDate("due_at", tzinfo=tz))
        .values("day", "branch_id", "assigned_to_id", "kind")
        .annotate(
            due=Count("pk"),
            done=Count("pk", filter=Q(status="completed")),
            open=Count("pk", filter=Q(status__in=OPEN_VISIT_STATUSES)),
        )
    )
    return {
        (r["day"], r["branch_id"], r["assigned_to_id"], r["kind"]): (r["due"], r["done"], r["open"])
        for r in rows
    }


def _rollups() -> dict:
    return {
        (r.day, r.branch_id, r.agent_id, r.kind): (r.due, r.done, r.open)
        for r in VisitDayRollup.objects.all()
    }


@pytest.fixture
def world():
    branches = [BranchFactory(code=f"R{n}", name=f"支行{n}") for n in range(3)]
    agents = [
        staff_create(
            username=f"roll{n}",
            password="x-Rollup-2026!",
            role=Role.AGENT,
            full_name=f"回访员{n}",
            branches=[branches[n % 3]],
        )  # fmt: skip
        for n in range(4)
    ]
    accounts = [AccountFactory(branch=branches[n % 3]) for n in range(40)]
    return branches, agents, accounts


def _random_activity(rnd: random.Random, agents, accounts, now, steps: int) -> None:
    """Creates, assigns, completes and cancels visits at random (what the services do to the
    columns the roll-ups count, with ``updated_at`` moving as ``save`` moves it)."""
    for _ in range(steps):
        action = rnd.random()
        visits = list(Visit.objects.order_by("pk"))
        if action < 0.4 or not visits:
            account, kind = rnd.choice(accounts), rnd.choice(KINDS)
            if Visit.objects.open().filter(account=account, kind=kind).exists():
                continue  # one open visit per account and kind
            VisitFactory(
                account=account,
                kind=kind,
                status="pending",
                due_at=now + dt.timedelta(days=rnd.randint(-20, 10), hours=rnd.randint(0, 23)),
            )
            continue
        visit = rnd.choice(visits)
        if visit.status not in OPEN_VISIT_STATUSES:
            continue
        if action < 0.6:
            visit.status, visit.assigned_to = "assigned", rnd.choice(agents)
        elif action < 0.85:
            visit.status, visit.completed_at = "completed", now
        else:
            visit.status = "cancelled"
        visit.save()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_rollups_equal_a_full_recount_after_random_activity(world, seed):
    _branches, agents, accounts = world
    rnd = random.Random(seed)
    with time_machine.travel(NOW, tick=False):
        _random_activity(rnd, agents, accounts, timezone.now(), 60)
        rollups_refresh()
        assert _rollups() == _recount()
    for hours in (1, 2, 3):  # later changes, picked up from the watermark
        with time_machine.travel(NOW + dt.timedelta(hours=hours), tick=False):
            _random_activity(rnd, agents, accounts, timezone.now(), 40)
            rollups_refresh()
            assert _rollups() == _recount()


def test_the_nightly_reconciliation_repairs_a_day_a_visit_left(world):
    _branches, _agents, accounts = world
    with time_machine.travel(NOW, tick=False):
        visit = VisitFactory(account=accounts[0], due_at=timezone.now() - dt.timedelta(days=3))
        rollups_refresh()
        # A due date moved without touching updated_at (as a bulk recompute does).
        Visit.objects.filter(pk=visit.pk).update(due_at=timezone.now() - dt.timedelta(days=5))
        rollups_refresh()
        assert _rollups() != _recount()
        rollups_reconcile()
        assert _rollups() == _recount()


def test_the_dashboard_reads_closed_days_from_the_rollups_and_today_from_the_visits(world):
    branches, agents, accounts = world
    supervisor = staff_create(
        username="roll_super", password="x-Rollup-2026!", role=Role.SUPERVISOR,
        full_name="督导", branches=branches,
    )  # fmt: skip
    rnd = random.Random(7)
    with time_machine.travel(NOW, tick=False):
        _random_activity(rnd, agents, accounts, timezone.now(), 80)
        VisitFactory(
            account=accounts[1], kind="follow_up", due_at=timezone.now() - dt.timedelta(days=1)
        )
        rollups_refresh()
        today = timezone.localdate()
        since = today - dt.timedelta(days=29)
        data = dashboard_data(user=supervisor, since=since, until=today)
        start = timezone.make_aware(dt.datetime.combine(since, dt.time.min))
        end = timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min))
        base = Visit.objects.filter(due_at__gte=start, due_at__lt=end)
        assert data["totals"] == {
            "due": base.count(),
            "done": base.filter(status="completed").count(),
            "overdue": base.filter(
                status__in=OPEN_VISIT_STATUSES, due_at__lt=timezone.now()
            ).count(),
        }
        # A closed day's figures come from the roll-ups (a stale one shows until refreshed).
        yesterday = today - dt.timedelta(days=1)
        rows = VisitDayRollup.objects.filter(day=yesterday)
        before = sum(rows.values_list("due", flat=True))
        assert before > 0
        rows.update(due=1000)
        stale = dashboard_data(user=supervisor, since=since, until=today)
        assert stale["totals"]["due"] == data["totals"]["due"] - before + 1000 * rows.count()
        # Today's visits are counted live, without waiting for a refresh.
        today_visits = base.filter(due_at__gte=end - dt.timedelta(days=1))
        Visit.objects.open().filter(account=accounts[2], kind="follow_up").delete()
        VisitFactory(
            account=accounts[2], kind="follow_up", due_at=timezone.now() + dt.timedelta(hours=2)
        )
        live = dashboard_data(user=supervisor, since=today, until=today)
        assert live["totals"]["due"] == today_visits.count() > 0
