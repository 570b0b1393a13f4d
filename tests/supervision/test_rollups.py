"""Daily roll-ups of visits: kept equal to a full recount by the watermark refresh and the
nightly reconciliation, and read by the dashboard for closed days."""

import datetime as dt
import random

import pytest
import time_machine
from django.core.cache import cache
from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Role
from accounts.services import staff_create
from supervision import rollups
from supervision.models import ActivityDayRollup, VisitDayRollup
from supervision.rollups import rollup_days_rebuild, rollups_reconcile, rollups_refresh
from supervision.selectors import dashboard_data
from tests.factories import AccountFactory, BranchFactory, VisitFactory
from visits.models import OPEN_VISIT_STATUSES, ContactAttempt, Visit, VisitRecord

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
        # Cached under the roll-ups' version, which only their rebuilds move: the same figures.
        assert dashboard_data(user=supervisor, since=since, until=today) == data
        cache.clear()
        stale = dashboard_data(user=supervisor, since=since, until=today)
        assert stale["totals"]["due"] == data["totals"]["due"] - before + 1000 * rows.count()
        # A rebuild (here of another day) takes a new version: the rows are read again.
        rows.update(due=2000)
        rollup_days_rebuild([today - dt.timedelta(days=40)])
        again = dashboard_data(user=supervisor, since=since, until=today)
        assert again["totals"]["due"] == data["totals"]["due"] - before + 2000 * rows.count()
        # Today's visits are counted live, without waiting for a refresh.
        today_visits = base.filter(due_at__gte=end - dt.timedelta(days=1))
        Visit.objects.open().filter(account=accounts[2], kind="follow_up").delete()
        VisitFactory(
            account=accounts[2], kind="follow_up", due_at=timezone.now() + dt.timedelta(hours=2)
        )
        live = dashboard_data(user=supervisor, since=today, until=today)
        assert live["totals"]["due"] == today_visits.count() > 0


def _activity_direct(user, since, until) -> tuple[dict, dict, dict]:
    """Reach, on-time and satisfaction by day, computed from the attempts and records."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(dt.datetime.combine(since, dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min))
    reach, on_time, satisfaction = {}, {}, {}
    for row in (
        ContactAttempt.objects.filter(started_at__gte=start, started_at__lt=end)
        .annotate(day=TruncDate("started_at", tzinfo=tz))
        .values("day")
        .annotate(
            a=Count("visit", distinct=True),
            r=Count("visit", filter=Q(outcome="reached"), distinct=True),
        )
    ):
        reach[row["day"].isoformat()] = round(row["r"] / row["a"], 4)
    for row in (
        VisitRecord.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
        .annotate(day=TruncDate("submitted_at", tzinfo=tz))
        .values("day")
        .annotate(
            n=Count("pk"),
            t=Count(
                "pk",
                filter=Q(
                    visit__completed_at__isnull=False, visit__completed_at__lte=F("visit__due_at")
                )
                | Q(visit__completed_at__isnull=True, submitted_at__lte=F("visit__due_at")),
            ),
            rated=Count("satisfaction"),
            avg=Avg("satisfaction"),
        )
    ):
        on_time[row["day"].isoformat()] = round(row["t"] / row["n"], 4)
        if row["rated"]:
            satisfaction[row["day"].isoformat()] = round(row["avg"], 2)
    return reach, on_time, satisfaction


def _random_calls(rnd: random.Random, agents, now, steps: int) -> None:
    """Attempts on the open visits and records submitted for some of them (the visit left open:
    the on-time test falls on the record's own time), over the last few days and today."""
    for _ in range(steps):
        visits = list(Visit.objects.open().order_by("pk"))
        if not visits:
            return
        visit = rnd.choice(visits)
        at = now - dt.timedelta(days=rnd.randint(0, 4), hours=rnd.randint(0, 20))
        reached = rnd.random() < 0.5
        ContactAttempt.objects.create(
            visit=visit, channel="phone", agent=rnd.choice(agents), started_at=at,
            outcome="reached" if reached else "no_answer",
        )  # fmt: skip
        if reached and not hasattr(visit, "record") and rnd.random() < 0.6:
            VisitRecord.objects.create(
                visit=visit, channel="phone", submitted_at=at, submitted_by=rnd.choice(agents),
                reminder_anti_fraud=True, reminder_safe_operation=True,
                satisfaction=rnd.choice([None, 1, 3, 5]),
            )  # fmt: skip
        visit.save()  # the services touch the visit (attempt count, status)


def _calls_today(rnd: random.Random, agents, now, steps: int) -> None:
    """Attempts and records of the last few hours (all today), some visits completed (those
    with no record or today's): what changes today's activity figures between two refreshes
    and no closed day's."""
    today = timezone.localdate()
    for _ in range(steps):
        visits = list(Visit.objects.open().order_by("pk"))
        if not visits:
            return
        visit = rnd.choice(visits)
        at = now - dt.timedelta(minutes=rnd.randint(0, 300))
        reached = rnd.random() < 0.5
        ContactAttempt.objects.create(
            visit=visit, channel="phone", agent=rnd.choice(agents), started_at=at,
            outcome="reached" if reached else "no_answer",
        )  # fmt: skip
        record = getattr(visit, "record", None)
        if reached and record is None and rnd.random() < 0.6:
            record = VisitRecord.objects.create(
                visit=visit, channel="phone", submitted_at=at, submitted_by=rnd.choice(agents),
                reminder_anti_fraud=True, reminder_safe_operation=True,
                satisfaction=rnd.choice([None, 2, 4]),
            )  # fmt: skip
        if rnd.random() < 0.3 and (
            record is None or timezone.localtime(record.submitted_at).date() == today
        ):
            visit.status, visit.completed_at = "completed", now  # on time or late
        visit.save()


def _activity_recount() -> dict:
    """(day, branch) -> the activity roll-up's figures, recounted from attempts and records."""
    tz = timezone.get_current_timezone()
    figures: dict = {}
    for row in (
        ContactAttempt.objects.annotate(day=TruncDate("started_at", tzinfo=tz))
        .values("day", "visit__branch_id")
        .annotate(
            a=Count("visit", distinct=True),
            r=Count("visit", filter=Q(outcome="reached"), distinct=True),
        )
    ):
        figures[(row["day"], row["visit__branch_id"])] = [row["a"], row["r"], 0, 0, 0, 0]
    on_time = Q(visit__completed_at__isnull=False, visit__completed_at__lte=F("visit__due_at")) | Q(
        visit__completed_at__isnull=True, submitted_at__lte=F("visit__due_at")
    )
    for row in (
        VisitRecord.objects.annotate(day=TruncDate("submitted_at", tzinfo=tz))
        .values("day", "visit__branch_id")
        .annotate(
            n=Count("pk"),
            t=Count("pk", filter=on_time),
            rated=Count("satisfaction"),
            total=Sum("satisfaction"),
        )  # fmt: skip
    ):
        target = figures.setdefault((row["day"], row["visit__branch_id"]), [0, 0, 0, 0, 0, 0])
        target[2:] = [row["n"], row["t"], row["rated"], row["total"] or 0]
    return figures


def _activity_rollups() -> dict:
    return {
        (r.day, r.branch_id): [
            r.attempted, r.reached, r.completed, r.on_time, r.rated, r.satisfaction_sum
        ]
        for r in ActivityDayRollup.objects.all()
    }  # fmt: skip


def _assert_dashboard_rates_equal_direct(supervisor, since, today) -> None:
    data = dashboard_data(user=supervisor, since=since, until=today)
    reach, on_time, satisfaction = _activity_direct(supervisor, since, today)
    rates = data["rates"]
    assert dict(zip(rates["labels"], rates["reach"], strict=True)) == {
        day: reach.get(day) for day in rates["labels"]
    }
    assert set(reach) <= set(rates["labels"])
    assert {d: v for d, v in zip(rates["labels"], rates["on_time"]) if v is not None} == on_time
    got = data["satisfaction"]
    assert dict(zip(got["labels"], got["average"], strict=True)) == satisfaction


def test_the_dashboards_reach_on_time_and_satisfaction_equal_the_attempts_and_records(world):
    branches, agents, accounts = world
    supervisor = staff_create(
        username="act_super", password="x-Rollup-2026!", role=Role.SUPERVISOR,
        full_name="督导", branches=branches,
    )  # fmt: skip
    rnd = random.Random(11)
    for hours in (0, 1, 2):  # a first refresh builds the days, later ones follow the watermark
        with time_machine.travel(NOW + dt.timedelta(hours=hours), tick=False):
            _random_activity(rnd, agents, accounts, timezone.now(), 40)
            _random_calls(rnd, agents, timezone.now(), 40)
            rollups_refresh()
            today = timezone.localdate()
            since = today - dt.timedelta(days=6)
            data = dashboard_data(user=supervisor, since=since, until=today)
            reach, on_time, satisfaction = _activity_direct(supervisor, since, today)
            assert len(reach) > 2 and satisfaction  # several days, some rated
            rates = data["rates"]
            assert dict(zip(rates["labels"], rates["reach"], strict=True)) == {
                day: reach.get(day) for day in rates["labels"]
            }
            assert {d: v for d, v in zip(rates["labels"], rates["on_time"]) if v is not None} == (
                on_time
            )
            got = data["satisfaction"]
            assert dict(zip(got["labels"], got["average"], strict=True)) == satisfaction
            assert ActivityDayRollup.objects.filter(day__lt=today).exists()
            assert _activity_rollups() == _activity_recount()  # today's rows included
            # Between two refreshes: today's calls and records change; the dashboard reads
            # today's roll-up and corrects it for the visits changed since it was built.
            for minutes in (1, 7, 30):
                with time_machine.travel(
                    NOW + dt.timedelta(hours=hours, minutes=minutes), tick=False
                ):
                    _calls_today(rnd, agents, timezone.now(), 15)
                    _assert_dashboard_rates_equal_direct(supervisor, since, today)
                    assert dashboard_data(user=supervisor, since=today, until=today)["rates"][
                        "reach"
                    ]


def _built_today(world, username: str, rnd: random.Random, calls: int):
    """A supervisor of every branch, random activity and ``calls`` calls today, then a roll-up
    refresh half an hour later (today's activity roll-up built). Returns the supervisor."""
    branches, agents, accounts = world
    supervisor = staff_create(
        username=username, password="x-Rollup-2026!", role=Role.SUPERVISOR,
        full_name="督导", branches=branches,
    )  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        _random_activity(rnd, agents, accounts, timezone.now(), 40)
        _calls_today(rnd, agents, timezone.now(), calls)
    with time_machine.travel(NOW + dt.timedelta(minutes=30), tick=False):
        rollups_refresh()
    return supervisor


def test_today_is_read_from_its_rollup_plus_the_visits_changed_since(world):
    _branches, agents, _accounts = world
    rnd = random.Random(5)
    supervisor = _built_today(world, "today_super", rnd, 30)
    with time_machine.travel(NOW + dt.timedelta(minutes=30), tick=False):
        today = timezone.localdate()
        rows = ActivityDayRollup.objects.filter(day=today)
        assert rows.exists()
        # Today's figure is the roll-up's (a tampered row shows: nothing was read live) ...
        rows.update(attempted=F("attempted") + 1000, reached=F("reached") + 1000)
        data = dashboard_data(user=supervisor, since=today, until=today)
        reach, _on_time, _satisfaction = _activity_direct(supervisor, today, today)
        assert data["rates"]["reach"] != [reach[today.isoformat()]]
        rollups_refresh()
    with time_machine.travel(NOW + dt.timedelta(hours=2), tick=False):
        # ... plus the visits changed since it was built, their figures now minus then.
        _calls_today(rnd, agents, timezone.now(), 10)
        _assert_dashboard_rates_equal_direct(supervisor, today, today)
    with time_machine.travel(NOW + dt.timedelta(days=1, hours=1), tick=False):
        # Not built yet on the new day: today is read live.
        tomorrow = timezone.localdate()
        _calls_today(rnd, agents, timezone.now(), 10)
        _assert_dashboard_rates_equal_direct(supervisor, tomorrow, tomorrow)
        assert dashboard_data(user=supervisor, since=tomorrow, until=tomorrow)["rates"]["reach"]


def test_after_a_bulk_change_today_is_read_live_and_stays_exact(world, monkeypatch):
    # Many visits saved since today's build (the night's generation, a recomputation): the
    # roll-up is not corrected visit by visit, today is read live, with the same figures.
    branches, agents, _accounts = world
    rnd = random.Random(11)
    supervisor = _built_today(world, "bulk_super", rnd, 20)
    with time_machine.travel(NOW + dt.timedelta(minutes=30), tick=False):
        today = timezone.localdate()
        built, _token = rollups.rollup_marks()
    with time_machine.travel(NOW + dt.timedelta(hours=2), tick=False):
        _calls_today(rnd, agents, timezone.now(), 10)
        Visit.objects.update(updated_at=timezone.now())  # every visit saved since the build
        monkeypatch.setattr(rollups, "DELTA_MAX_VISITS", 5)
        assert Visit.objects.count() > 5
        delta = rollups.activity_today_delta(
            branch_ids=[b.pk for b in branches], now=timezone.now(), built=built
        )
        assert delta is None
        _assert_dashboard_rates_equal_direct(supervisor, today, today)
