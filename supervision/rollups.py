"""Daily roll-ups of visits for the dashboard.

``VisitDayRollup`` holds, per due day (business time zone), branch, agent and kind, the number
of visits due, completed and still open. A day's rows are always rebuilt whole from the visits
(delete, then one grouped INSERT), so a refresh is exact for the days it touches:

- ``rollups_refresh`` (beat, every 5 minutes): the days of the visits changed since the
  watermark (``Visit.updated_at``, with an overlap for transactions that committed late);
- ``rollups_reconcile`` (nightly): every day of the last ``ROLLUP_RECONCILE_DAYS`` days (and the
  horizon ahead), which also repairs a day a visit left when its due date moved.

``ActivityDayRollup`` holds, per day and branch, the calls (visits attempted, reached) and the
records (submitted, on time, rated, satisfaction) of that day, rebuilt whole per day in the
same way: the refresh takes the days of the attempts started and of the records of the visits
changed since the watermark, the reconciliation every day of its range.

Today's activity rows are built from per-visit figures (``ActivityVisitDay``: each visit's
attempted, reached, record figures today), kept beside them. The dashboard then reads today
from the roll-up too and corrects it exactly for the visits changed since that build (their
figures now minus their stored ones, ``activity_today_delta``): the few visits touched in the
last minutes instead of every call and record of the day.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from supervision.models import (
    ActivityDayRollup,
    ActivityVisitDay,
    RollupWatermark,
    VisitDayRollup,
)
from supervision.periods import day_bounds
from visits.models import (
    OPEN_VISIT_STATUSES,
    AttemptOutcome,
    ContactAttempt,
    Visit,
    VisitRecord,
    VisitStatus,
)

WATERMARK = "visit_day_rollup"
# When today's activity roll-up and its per-visit figures were last built.
TODAY_MARK = "activity_today"
# The roll-up rows' version: a new token whenever any of them is rebuilt.
VERSION_MARK = "rollups_version"
OVERLAP = dt.timedelta(minutes=10)
# Beyond this many visits changed since today's build (a bulk change: the night's generation,
# due times recomputed for a newly loaded year), correcting the roll-up visit by visit costs
# more than reading today's calls and records live, which is what the dashboard does then.
DELTA_MAX_VISITS = 5000


def _rollups_changed() -> None:
    """A new version token for the roll-up rows, in the transaction that rebuilds them."""
    RollupWatermark.objects.update_or_create(
        name=VERSION_MARK, defaults={"at": timezone.now(), "token": uuid.uuid4().hex}
    )


def rollup_marks() -> tuple[dt.datetime | None, str]:
    """(when today's activity roll-up was built, the roll-up rows' version token), one read."""
    marks = {
        name: (at, token)
        for name, at, token in RollupWatermark.objects.filter(
            name__in=[TODAY_MARK, VERSION_MARK]
        ).values_list("name", "at", "token")
    }
    return marks.get(TODAY_MARK, (None, ""))[0], marks.get(VERSION_MARK, (None, ""))[1]


def rollup_days_rebuild(days: Iterable[dt.date]) -> int:
    """Rebuilds the rows of ``days`` from the visits; returns the rows written."""
    days = sorted(set(days))
    if not days:
        return 0
    tz = timezone.get_current_timezone()
    written = 0
    with transaction.atomic():
        _rollups_changed()
        VisitDayRollup.objects.filter(day__in=days).delete()
        for day in days:
            start, end = day_bounds(day, day)
            grouped = (
                Visit.objects.filter(due_at__gte=start, due_at__lt=end)
                .order_by()
                .annotate(day=TruncDate("due_at", tzinfo=tz))
                .values("day", "branch_id", "assigned_to_id", "kind")
                .annotate(
                    due=Count("pk"),
                    done=Count("pk", filter=Q(status=VisitStatus.COMPLETED)),
                    open=Count("pk", filter=Q(status__in=OPEN_VISIT_STATUSES)),
                )
            )
            rows = [
                VisitDayRollup(
                    day=row["day"],
                    branch_id=row["branch_id"],
                    agent_id=row["assigned_to_id"],
                    kind=row["kind"],
                    due=row["due"],
                    done=row["done"],
                    open=row["open"],
                )
                for row in grouped
            ]
            VisitDayRollup.objects.bulk_create(rows, batch_size=1000)
            written += len(rows)
    return written


# A record is on time when its visit was completed (or, not completed yet, the record was
# submitted) by the visit's due time.
RECORD_ON_TIME = Q(
    visit__completed_at__isnull=False, visit__completed_at__lte=F("visit__due_at")
) | Q(visit__completed_at__isnull=True, submitted_at__lte=F("visit__due_at"))


# Visits attempted and reached, each counted once per group.
ATTEMPT_FIGURES = {
    "attempted": Count("visit", distinct=True),
    "reached": Count("visit", filter=Q(outcome=AttemptOutcome.REACHED), distinct=True),
}


RECORD_FIGURES = {
    "completed": Count("pk"),
    "on_time": Count("pk", filter=RECORD_ON_TIME),
    "rated": Count("satisfaction"),
    "satisfaction_sum": Sum("satisfaction"),
}


def activity_days_rebuild(days: Iterable[dt.date]) -> int:
    """Rebuilds the activity rows of ``days`` from the attempts and records; returns the rows."""
    days = sorted(set(days))
    if not days:
        return 0
    written = 0
    with transaction.atomic():
        _rollups_changed()
        ActivityDayRollup.objects.filter(day__in=days).delete()
        for day in days:
            start, end = day_bounds(day, day)
            rows: dict[int, ActivityDayRollup] = {}
            attempts = ContactAttempt.objects.filter(started_at__gte=start, started_at__lt=end)
            for row in attempts.order_by().values("visit__branch_id").annotate(**ATTEMPT_FIGURES):
                rows[row["visit__branch_id"]] = ActivityDayRollup(
                    day=day,
                    branch_id=row["visit__branch_id"],
                    attempted=row["attempted"],
                    reached=row["reached"],
                )
            for row in (
                VisitRecord.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
                .order_by()
                .values("visit__branch_id")
                .annotate(**RECORD_FIGURES)
            ):
                target = rows.setdefault(
                    row["visit__branch_id"],
                    ActivityDayRollup(day=day, branch_id=row["visit__branch_id"]),
                )
                target.completed = row["completed"]
                target.on_time = row["on_time"]
                target.rated = row["rated"]
                target.satisfaction_sum = row["satisfaction_sum"] or 0
            ActivityDayRollup.objects.bulk_create(rows.values(), batch_size=1000)
            written += len(rows)
    return written


FIGURES = ("attempted", "reached", "completed", "on_time", "rated", "satisfaction_sum")


def activity_per_visit(
    start: dt.datetime,
    end: dt.datetime,
    visit_ids: Iterable[int] | None = None,
    branch_of: dict[int, int] | None = None,
) -> dict[int, list[int]]:
    """visit id -> [branch id, *FIGURES] of its attempts started and its record submitted in
    [start, end) (of ``visit_ids`` only, when given). ``branch_of``: the branch of every visit
    of ``visit_ids``, when the caller knows them (the attempts and records are then read
    without joining the visits: one random read of the visits table per visit fewer)."""
    attempts = ContactAttempt.objects.filter(started_at__gte=start, started_at__lt=end)
    records = VisitRecord.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
    if visit_ids is not None:
        visit_ids = frozenset(visit_ids)  # one array parameter each (core.lookups)
        attempts = attempts.filter(visit_id__in_array=visit_ids)
        records = records.filter(visit_id__in_array=visit_ids)
    branch = "visit_id" if branch_of is not None else "visit__branch_id"

    def branch_id(value: int) -> int:
        return branch_of[value] if branch_of is not None else value

    rows: dict[int, list[int]] = {}
    for visit_id, key, reached in (
        attempts.order_by()
        .values("visit_id", branch)
        .annotate(reached=Count("pk", filter=Q(outcome=AttemptOutcome.REACHED)))
        .values_list("visit_id", branch, "reached")
    ):
        rows[visit_id] = [branch_id(key), 1, 1 if reached else 0, 0, 0, 0, 0]
    for row in (
        records.order_by()
        .values("visit_id", branch)
        .annotate(**RECORD_FIGURES)
        .values_list("visit_id", branch, *RECORD_FIGURES)
    ):
        target = rows.setdefault(row[0], [branch_id(row[1]), 0, 0, 0, 0, 0, 0])
        target[3:] = [value or 0 for value in row[2:]]
    return rows


def activity_today_rebuild(*, now: dt.datetime) -> int:
    """Today's activity roll-up rows and the per-visit figures they sum, built together from one
    read of today's attempts and records; marks when. Returns the rows written."""
    today = timezone.localtime(now).date()
    start, end = day_bounds(today, today)
    per_visit = activity_per_visit(start, end)
    branches: dict[int, list[int]] = {}
    for branch_id, *figures in per_visit.values():
        sums = branches.setdefault(branch_id, [0] * len(FIGURES))
        for n, value in enumerate(figures):
            sums[n] += value
    with transaction.atomic():
        _rollups_changed()
        ActivityVisitDay.objects.all().delete()
        ActivityVisitDay.objects.bulk_create(
            (
                ActivityVisitDay(
                    day=today, visit_id=visit_id, branch_id=branch_id, **dict(zip(FIGURES, rest))
                )
                for visit_id, (branch_id, *rest) in per_visit.items()
            ),
            batch_size=2000,
        )
        ActivityDayRollup.objects.filter(day=today).delete()
        ActivityDayRollup.objects.bulk_create(
            ActivityDayRollup(day=today, branch_id=branch_id, **dict(zip(FIGURES, sums)))
            for branch_id, sums in branches.items()
        )
        RollupWatermark.objects.update_or_create(name=TODAY_MARK, defaults={"at": now})
    return len(branches)


def activity_today_delta(
    *, branch_ids: Iterable[int], now: dt.datetime, built: dt.datetime | None
) -> list[int] | None:
    """What to add to today's activity roll-up (summed over ``branch_ids``), per FIGURES, to
    make it exact now: for every visit whose calls or record may have changed since the last
    build (``built``, from ``rollup_marks``), its figures now minus those the build counted.
    None when today has not been built yet, or when more than ``DELTA_MAX_VISITS`` visits may
    have changed since (today is read live then).

    The visits that may have changed: those saved since the build minus ``OVERLAP`` (the
    services save the visit with every attempt and record), and those with an attempt started
    or a record submitted between then and now (one written without saving its visit: rows are
    stamped when written). As for the refresh, a transaction is assumed to commit within
    ``OVERLAP`` of its changes."""
    today = timezone.localtime(now).date()
    if built is None or timezone.localtime(built).date() != today:
        return None
    since = built - OVERLAP
    # UNION ALL: the database stops after DELTA_MAX_VISITS + 1 rows, where a UNION would first
    # read and sort every changed visit (after a bulk change, a million of them, to learn that
    # there are too many). A visit may then come twice (its attempt and itself); such repeats
    # count towards the limit, which sends the dashboard to the exact live reading a little
    # sooner, never to a wrong figure.
    rows = list(
        Visit.objects.filter(updated_at__gte=since)
        .order_by()
        .values_list("pk", flat=True)
        .union(
            ContactAttempt.objects.filter(started_at__gte=since, started_at__lte=now)
            .order_by()
            .values_list("visit_id"),
            VisitRecord.objects.filter(submitted_at__gte=since, submitted_at__lte=now)
            .order_by()
            .values_list("visit_id"),
            all=True,
        )[: DELTA_MAX_VISITS + 1]
    )
    if len(rows) > DELTA_MAX_VISITS:
        return None
    changed = set(rows)
    delta = [0] * len(FIGURES)
    if not changed:
        return delta
    scope = set(branch_ids)
    # What the build counted of these visits, with their branches; the branches of the others
    # (no activity counted at the build) from the visits table.
    counted = {
        visit_id: (branch_id, rest)
        for visit_id, branch_id, *rest in ActivityVisitDay.objects.filter(
            day=today, visit_id__in_array=changed
        ).values_list("visit_id", "branch_id", *FIGURES)
    }
    branch_of = {visit_id: branch_id for visit_id, (branch_id, _rest) in counted.items()}
    if uncounted := {pk for pk in changed if pk not in branch_of}:
        branch_of.update(
            Visit.objects.filter(pk__in_array=uncounted).values_list("pk", "branch_id")
        )
    mine = [pk for pk in changed if branch_of.get(pk) in scope]
    if not mine:
        return delta
    start, end = day_bounds(today, today)
    for _branch_id, *figures in activity_per_visit(start, end, mine, branch_of).values():
        for n, value in enumerate(figures):
            delta[n] += value
    for visit_id in mine:
        if visit_id in counted:
            for n, value in enumerate(counted[visit_id][1]):
                delta[n] -= value
    return delta


def _activity_days_changed(since: dt.datetime | None) -> set[dt.date]:
    """Days of the attempts started and of the records of the visits changed since ``since``
    (everything when None)."""
    tz = timezone.get_current_timezone()
    attempts = ContactAttempt.objects.all()
    records = VisitRecord.objects.all()
    if since is not None:
        attempts = attempts.filter(Q(started_at__gte=since) | Q(visit__updated_at__gte=since))
        records = records.filter(Q(submitted_at__gte=since) | Q(visit__updated_at__gte=since))
    days = set(
        attempts.order_by()
        .annotate(day=TruncDate("started_at", tzinfo=tz))
        .values_list("day", flat=True)
        .distinct()
    )
    return days | set(
        records.order_by()
        .annotate(day=TruncDate("submitted_at", tzinfo=tz))
        .values_list("day", flat=True)
        .distinct()
    )


def rollups_refresh(*, now: dt.datetime | None = None) -> int:
    """Rebuilds the days of the visits changed since the watermark; moves the watermark."""
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    with transaction.atomic():
        mark, created = RollupWatermark.objects.select_for_update().get_or_create(
            name=WATERMARK, defaults={"at": now}
        )
        if created:  # first run: everything there is
            changed = Visit.objects.all()
        else:
            changed = Visit.objects.filter(updated_at__gte=mark.at - OVERLAP)
        days = set(
            changed.order_by()
            .annotate(day=TruncDate("due_at", tzinfo=tz))
            .values_list("day", flat=True)
            .distinct()
        )
        rollup_days_rebuild(days)
        # Everything on the first run, and the first time after the activity roll-ups came.
        whole = created or not ActivityDayRollup.objects.exists()
        today = timezone.localtime(now).date()
        activity_days_rebuild(
            _activity_days_changed(None if whole else mark.at - OVERLAP) - {today}
        )
        activity_today_rebuild(now=now)
        mark.at = now
        mark.save(update_fields=["at"])
    return len(days)


def rollups_reconcile(*, now: dt.datetime | None = None) -> int:
    """Nightly: rebuilds every day from ``ROLLUP_RECONCILE_DAYS`` back to the generation
    horizon ahead, and any day with roll-up rows but no visit left."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    back = int(settings.CALLBACK.get("ROLLUP_RECONCILE_DAYS", 400))
    ahead = int(settings.CALLBACK.get("GENERATION_HORIZON_DAYS", 30)) + 1
    days = {today + dt.timedelta(days=n) for n in range(-back, ahead + 1)}
    start, end = day_bounds(min(days), max(days))
    tz = timezone.get_current_timezone()
    days |= set(
        Visit.objects.filter(
            Q(due_at__lt=start) | Q(due_at__gte=end), updated_at__gte=now - dt.timedelta(days=2)
        )
        .order_by()
        .annotate(day=TruncDate("due_at", tzinfo=tz))
        .values_list("day", flat=True)
        .distinct()
    )
    rollup_days_rebuild(days)
    activity_days_rebuild(
        (days | set(ActivityDayRollup.objects.values_list("day", flat=True).distinct())) - {today}
    )
    activity_today_rebuild(now=now)
    return len(days)
