"""Reads for the supervision pages. Every figure is a database aggregate over a scoped queryset
(``accounts.permissions.*_visible_to``); Python only reshapes the grouped rows for the charts."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.permissions import (
    branches_visible_to,
    staff_ids_visible_to,
)
from escalations.access import escalations_visible_to
from escalations.selectors import escalation_stats
from supervision.models import (
    ActivityDayRollup,
    Complaint,
    ComplaintStatus,
    MonthlyAssessment,
    VisitDayRollup,
)
from supervision.periods import day_bounds
from supervision.rollups import (
    ATTEMPT_FIGURES,
    FIGURES,
    RECORD_FIGURES,
    activity_today_delta,
    rollup_marks,
)
from visits.models import OPEN_VISIT_STATUSES, ContactAttempt, Visit, VisitRecord, VisitStatus


def complaints_visible_to(user) -> QuerySet[Complaint]:
    """Complaints of the user's branches, and those not yet linked to a branch (online)."""
    return Complaint.objects.filter(
        Q(branch__in=branches_visible_to(user).values("pk")) | Q(branch__isnull=True)
    )


def complaints_with_clock(queryset: QuerySet[Complaint], now: dt.datetime | None = None):
    """Adds ``is_overdue``: still open past its decision date, or answered after it."""
    now = now or timezone.now()
    late = Q(
        status__in=[ComplaintStatus.REGISTERED, ComplaintStatus.INVESTIGATING],
        decision_due_at__lt=now,
    ) | Q(status=ComplaintStatus.ANSWERED, answered_at__gt=F("decision_due_at"))
    return queryset.annotate(is_overdue=ExpressionWrapper(late, output_field=BooleanField()))


def overdue_complaints(queryset: QuerySet[Complaint], now: dt.datetime | None = None):
    now = now or timezone.now()
    return queryset.filter(
        status__in=[ComplaintStatus.REGISTERED, ComplaintStatus.INVESTIGATING],
        decision_due_at__lt=now,
    )


def _visit_counts(now):
    return {
        "due": Count("pk"),
        "done": Count("pk", filter=Q(status=VisitStatus.COMPLETED)),
        "overdue": Count("pk", filter=Q(status__in=OPEN_VISIT_STATUSES, due_at__lt=now)),
    }


def _add(table: dict[tuple, list[int]], key: tuple, due: int, done: int, overdue: int) -> None:
    counts = table.get(key)
    if counts is None:
        table[key] = [due, done, overdue]
    else:
        counts[0] += due
        counts[1] += done
        counts[2] += overdue


def _listed(table: dict[tuple, list[int]], keys: tuple[str, ...]) -> list[dict]:
    """The summed counts as rows named by ``keys``, sorted by key."""
    return [
        {**dict(zip(keys, key)), "due": due, "done": done, "overdue": overdue}
        for key, (due, done, overdue) in sorted(table.items())
    ]


def _visible_branches(user) -> dict[int, tuple[str, str]]:
    """The user's branches, id -> (code, name), resolved once per page: every figure below
    filters on these ids (instead of repeating the permission subquery in each statement), and
    the grouped rows take their branch names from here."""
    return {
        pk: (code, name)
        for pk, code, name in branches_visible_to(user).values_list("pk", "code", "name")
    }


COUNTS = ("due", "done", "overdue")
# Closed-day figures read from the roll-ups stay cached this long at most; any rebuild of a
# roll-up row changes the version token in the key, so a cached figure is never stale.
ROLLUP_CACHE_SECONDS = 3600


def _from_rollups(token: str, parts: tuple, read: Callable[[], Any]) -> Any:
    """``read()`` (rows of the roll-up tables only), cached under the roll-ups' version token
    and ``parts`` (what was read: the period and the user's branch ids). Not cached before the
    first rebuild (no token)."""
    if not token:
        return read()
    key = "dashboard-rollups:" + hashlib.sha256(repr((token, *parts)).encode()).hexdigest()
    value = cache.get(key)
    if value is None:
        value = read()
        cache.set(key, value, ROLLUP_CACHE_SECONDS)
    return value


def _visit_figures(*, branch_ids: list[int], since: dt.date, until: dt.date, now, token: str):
    """Visit counts for visits due in [since, until], as tuples: (kind, branch id, day, due,
    done, overdue) and (agent's username, first name, due, done, overdue), the database's
    grouped rows (summed by the caller): closed days (before today) from the daily roll-ups,
    today and later from the visits themselves. A closed day's open visits are all overdue."""
    tz = timezone.get_current_timezone()
    today = timezone.localtime(now).date()
    grouped: list[tuple] = []
    agents: list[tuple] = []
    if since < today:
        last = min(until, today - dt.timedelta(days=1))

        def read() -> tuple[list, list]:
            rollups = VisitDayRollup.objects.filter(
                day__gte=since, day__lte=last, branch_id__in=branch_ids
            ).order_by()
            sums = {"due": Sum("due"), "done": Sum("done"), "overdue": Sum("open")}
            return (
                list(
                    rollups.values("kind", "branch_id", "day")
                    .annotate(**sums)
                    .values_list("kind", "branch_id", "day", *COUNTS)
                ),
                list(
                    rollups.filter(agent__isnull=False)
                    .values("agent__username", "agent__first_name")
                    .annotate(**sums)
                    .values_list("agent__username", "agent__first_name", *COUNTS)
                ),
            )

        closed, closed_agents = _from_rollups(token, ("visits", since, last, branch_ids), read)
        grouped += closed
        agents += closed_agents
    if until >= today:
        start, end = day_bounds(max(since, today), until)
        # One grouped scan of the live days by (kind, branch, day, agent) feeds both the
        # per-kind/branch/day figures and the per-agent ones.
        for kind, branch_id, day, username, first_name, *counts in (
            Visit.objects.filter(branch_id__in=branch_ids, due_at__gte=start, due_at__lt=end)
            .order_by()
            .annotate(day=TruncDate("due_at", tzinfo=tz))
            .values("kind", "branch_id", "day", "assigned_to__username", "assigned_to__first_name")
            .annotate(**_visit_counts(now))
            .values_list(
                "kind",
                "branch_id",
                "day",
                "assigned_to__username",
                "assigned_to__first_name",
                *COUNTS,
            )
        ):
            grouped.append((kind, branch_id, day, *counts))
            if username is not None:
                agents.append((username, first_name, *counts))
    return grouped, agents


def _activity_figures(
    *, branch_ids: list[int], since: dt.date, until: dt.date, now, built, token: str
):
    """(day, figures) of the calls (visits attempted, reached) and of the records (completed,
    on time, rated, satisfaction sum) in [since, until], by day: closed days from the activity
    roll-ups, today from its roll-up corrected for the visits changed since it was built
    (``activity_today_delta``; live when it was not built today), later days live."""
    tz = timezone.get_current_timezone()
    today = timezone.localtime(now).date()
    attempts: dict[dt.date, dict] = {}
    records: dict[dt.date, dict] = {}
    delta = None
    if since <= today <= until:
        delta = activity_today_delta(branch_ids=branch_ids, now=now, built=built)
    last_rolled = today if delta is not None else today - dt.timedelta(days=1)
    if since <= last_rolled:
        last = min(until, last_rolled)

        def read() -> list[dict]:
            return list(
                ActivityDayRollup.objects.filter(
                    day__gte=since, day__lte=last, branch_id__in=branch_ids
                )
                .order_by()
                .values("day")
                .annotate(**{name: Sum(name) for name in FIGURES})
            )

        rolled = {
            row["day"]: dict(row)
            for row in _from_rollups(token, ("activity", since, last, branch_ids), read)
        }
        if delta is not None:
            row = rolled.setdefault(today, {"day": today, **dict.fromkeys(FIGURES, 0)})
            for name, value in zip(FIGURES, delta, strict=True):
                row[name] = (row[name] or 0) + value
        for day, row in rolled.items():
            if row["attempted"]:
                attempts[day] = row
            if row["completed"]:
                records[day] = row
    if until > last_rolled:
        start, end = day_bounds(max(since, last_rolled + dt.timedelta(days=1)), until)
        for row in (
            ContactAttempt.objects.filter(
                visit__branch_id__in=branch_ids, started_at__gte=start, started_at__lt=end
            )
            .order_by()
            .annotate(day=TruncDate("started_at", tzinfo=tz))
            .values("day")
            .annotate(**ATTEMPT_FIGURES)
        ):
            attempts[row["day"]] = row
        for row in (
            VisitRecord.objects.filter(
                visit__branch_id__in=branch_ids, submitted_at__gte=start, submitted_at__lt=end
            )
            .order_by()
            .annotate(day=TruncDate("submitted_at", tzinfo=tz))
            .values("day")
            .annotate(**RECORD_FIGURES)
        ):
            records[row["day"]] = row
    return sorted(attempts.items()), sorted(records.items())


def _rate(part, whole):
    return round(part / whole, 4) if whole else None


def dashboard_data(*, user, since: dt.date, until: dt.date, now: dt.datetime | None = None) -> dict:
    """The supervisor's dashboard over visits due in [since, until] (dates inclusive)."""
    now = now or timezone.now()
    start, end = day_bounds(since, until)
    branches = _visible_branches(user)
    branch_ids = sorted(branches)
    built, token = rollup_marks()
    grouped, agents = _visit_figures(
        branch_ids=branch_ids, since=since, until=until, now=now, token=token
    )
    # One pass sums the grouped rows by kind, by branch (code, name), by day and in total.
    kinds: dict[tuple, list[int]] = {}
    by_branches: dict[tuple, list[int]] = {}
    days: dict[tuple, list[int]] = {}
    total = [0, 0, 0]
    for kind, branch_id, day, due, done, overdue in grouped:
        _add(kinds, (kind,), due, done, overdue)
        _add(by_branches, branches[branch_id], due, done, overdue)
        _add(days, (day,), due, done, overdue)
        total[0] += due
        total[1] += done
        total[2] += overdue
    by_kind = _listed(kinds, ("kind",))
    by_branch = _listed(by_branches, ("branch__code", "branch__name"))
    by_day = _listed(days, ("day",))
    totals = dict(zip(COUNTS, total, strict=True))
    people: dict[tuple, list[int]] = {}
    for username, first_name, due, done, overdue in agents:
        _add(people, (username, first_name), due, done, overdue)
    by_agent = sorted(
        _listed(people, ("assigned_to__username", "assigned_to__first_name")),
        key=lambda row: (-row["due"], row["assigned_to__username"]),
    )[:20]

    attempt_days, record_days = _activity_figures(
        branch_ids=branch_ids, since=since, until=until, now=now, built=built, token=token
    )
    reach_by_day = {day: _rate(row["reached"], row["attempted"]) for day, row in attempt_days}
    rate_days = sorted(set(reach_by_day) | {day for day, _row in record_days})
    on_time_by_day = {day: _rate(row["on_time"], row["completed"]) for day, row in record_days}

    escalations = escalation_stats(
        since=start, until=end, queryset=escalations_visible_to(user).order_by()
    )

    assessments = MonthlyAssessment.objects.filter(agent__in=staff_ids_visible_to(user))
    latest_month = (
        assessments.filter(month__lte=until)
        .order_by("-month")
        .values_list("month", flat=True)
        .first()
    )
    ranking = []
    if latest_month:
        ranking = list(
            assessments.filter(month=latest_month, rank__isnull=False)
            .order_by("rank", "agent__username")
            .values("rank", "composite", "rewarded", "agent__username", "agent__first_name")[:20]
        )

    return {
        "totals": totals,
        "by_kind": by_kind,
        "by_branch": by_branch,
        "by_agent": by_agent,
        "over_time": {
            "labels": [row["day"].isoformat() for row in by_day],
            "due": [row["due"] for row in by_day],
            "done": [row["done"] for row in by_day],
            "overdue": [row["overdue"] for row in by_day],
        },
        "rates": {
            "labels": [day.isoformat() for day in rate_days],
            "reach": [reach_by_day.get(day) for day in rate_days],
            "on_time": [on_time_by_day.get(day) for day in rate_days],
        },
        "escalations": [
            {
                "department": row["department"],
                "opened": row["opened"],
                "resolved_in_time": row["resolved_in_time"],
                "overdue": row["overdue"],
            }
            for row in escalations
        ],
        "satisfaction": {
            "labels": [day.isoformat() for day, row in record_days if row["rated"]],
            "average": [
                round(row["satisfaction_sum"] / row["rated"], 2)
                for _day, row in record_days
                if row["rated"]
            ],
        },
        "ranking_month": latest_month.isoformat() if latest_month else None,
        "ranking": ranking,
    }
