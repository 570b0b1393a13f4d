"""The monthly assessment and ranking of agents, frozen once computed."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, F, Q
from django.utils import timezone

from accounts.models import Role
from core.audit import audit
from core.audit_actions import AuditAction
from core.config import callback_decimal, callback_dict, callback_int
from supervision.models import (
    AuditReview,
    Complaint,
    MonthlyAssessment,
)
from supervision.periods import day_bounds
from visits.models import AttemptOutcome, ContactAttempt, VisitRecord

# --- Monthly assessment --------------------------------------------------------------------


class AssessmentFrozen(Exception):
    """The month was computed after it ended: its figures are final."""


def _month_bounds(month: dt.date) -> tuple[dt.date, dt.datetime, dt.datetime]:
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    start, end = day_bounds(first, following - dt.timedelta(days=1))
    return first, start, end


STARS = (1, 2, 3, 4, 5)


def satisfaction_lower_bound(counts: dict[int, int], *, z: float) -> float | None:
    """A lower-bound average of 1-5 star ratings (the Bayesian approximation for K-star
    ratings): a Dirichlet posterior with one pseudo-rating per star, scored as its mean minus
    ``z`` standard errors. Few ratings are both pulled toward the middle and uncertain, so
    three 5-star calls (2.94 at z=1.65) do not beat three hundred 4.8-star ones (4.72)."""
    total = sum(counts.get(star, 0) for star in STARS)
    if not total:
        return None
    n = total + len(STARS)
    mean = sum(star * (counts.get(star, 0) + 1) for star in STARS) / n
    second = sum(star * star * (counts.get(star, 0) + 1) for star in STARS) / n
    return mean - z * math.sqrt(max(second - mean * mean, 0.0) / (n + 1))


def composite_score(*, reach_rate, on_time_rate, satisfaction, audit_score, upheld: int):
    """0-100. Weighted mean of the components the agent has (reach and on-time rates,
    satisfaction mapped from 1-5 to 0-1, audit score / 100), renormalised over the weights of
    the present ones, minus the penalty per upheld complaint. None without any component."""
    weights = callback_dict("ASSESSMENT_WEIGHTS")
    parts = [
        (weights["reach_rate"], reach_rate),
        (weights["on_time_rate"], on_time_rate),
        (weights["satisfaction"], None if satisfaction is None else (satisfaction - 1) / 4),
        (weights["audit_score"], None if audit_score is None else audit_score / 100),
    ]
    present = [(w, x) for w, x in parts if x is not None and w]
    if not present:
        return None
    base = sum(w * x for w, x in present) / sum(w for w, _x in present)
    score = 100 * base - 100 * weights["upheld_complaint_penalty"] * upheld
    return round(max(score, 0.0), 2)


def competition_ranks(scores: dict[int, float]) -> dict[int, int]:
    """Standard competition ranking ("1224"): equal scores share a rank, the next rank skips."""
    ordered = sorted(scores.values(), reverse=True)
    first_position: dict[float, int] = {}
    for position, score in enumerate(ordered, start=1):
        first_position.setdefault(score, position)
    return {key: first_position[score] for key, score in scores.items()}


def assessment_figures(*, month: dt.date) -> list[dict]:
    """Per agent: the month's figures, each from a grouped aggregate query (no row loops)."""
    _first, start, end = _month_bounds(month)
    User = get_user_model()
    agents = list(
        User.objects.filter(profile__role=Role.AGENT).order_by("pk").values_list("pk", flat=True)
    )
    attempts: dict[int, Mapping[str, Any]] = {
        row["agent"]: row
        for row in ContactAttempt.objects.filter(
            agent__in=agents, started_at__gte=start, started_at__lt=end
        )
        .order_by()
        .values("agent")
        .annotate(
            attempted=Count("visit", distinct=True),
            reached=Count("visit", filter=Q(outcome=AttemptOutcome.REACHED), distinct=True),
        )
    }
    month_records = VisitRecord.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
    on_time = Q(visit__completed_at__isnull=False, visit__completed_at__lte=F("visit__due_at")) | Q(
        visit__completed_at__isnull=True, submitted_at__lte=F("visit__due_at")
    )
    records: dict[int, Mapping[str, Any]] = {
        row["submitted_by"]: row
        for row in month_records.filter(submitted_by__in=agents)
        .order_by()
        .values("submitted_by")
        .annotate(
            completed=Count("pk"),
            on_time=Count("pk", filter=on_time),
            rated=Count("satisfaction"),
            satisfaction_avg=Avg("satisfaction"),
            **{f"stars_{star}": Count("pk", filter=Q(satisfaction=star)) for star in STARS},
        )
    }
    audits = dict(
        AuditReview.objects.filter(
            item__agent__in=agents, finished_at__gte=start, finished_at__lt=end
        )
        .order_by()
        .values("item__agent")
        .annotate(avg=Avg("score"))
        .values_list("item__agent", "avg")
    )
    upheld = dict(
        Complaint.objects.filter(
            agent__in=agents, upheld=True, answered_at__gte=start, answered_at__lt=end
        )
        .order_by()
        .values("agent")
        .annotate(n=Count("pk"))
        .values_list("agent", "n")
    )
    z = float(callback_decimal("ASSESSMENT_SATISFACTION_Z"))
    figures = []
    for agent_id in agents:
        tried = attempts.get(agent_id, {})
        done = records.get(agent_id, {})
        attempted = tried.get("attempted", 0)
        completed = done.get("completed", 0)
        rated = done.get("rated", 0)
        adjusted = satisfaction_lower_bound(
            {star: done.get(f"stars_{star}", 0) for star in STARS}, z=z
        )
        row = {
            "agent_id": agent_id,
            "visits_completed": completed,
            "visits_attempted": attempted,
            "reach_rate": tried["reached"] / attempted if attempted else None,
            "on_time_rate": done["on_time"] / completed if completed else None,
            "rated_visits": rated,
            "raw_satisfaction": done.get("satisfaction_avg"),
            "adjusted_satisfaction": adjusted,
            "audit_score": audits.get(agent_id),
            "upheld_complaints": upheld.get(agent_id, 0),
        }
        row["composite"] = composite_score(
            reach_rate=row["reach_rate"],
            on_time_rate=row["on_time_rate"],
            satisfaction=adjusted,
            audit_score=row["audit_score"],
            upheld=row["upheld_complaints"],
        )
        figures.append(row)
    return figures


def assessment_compute(*, month: dt.date, now: dt.datetime | None = None, by=None) -> int:
    """Computes (or recomputes) a month's assessment and ranking. A month computed after it
    ended is frozen: recomputing it raises AssessmentFrozen. Agents with fewer than
    CALLBACK["ASSESSMENT_MIN_RATED_VISITS"] rated visits are listed but not ranked; the top
    CALLBACK["ASSESSMENT_REWARD_TOP"] ranks (ties included) are marked for a reward."""
    now = now or timezone.now()
    first, _start, end = _month_bounds(month)
    if MonthlyAssessment.objects.filter(month=first, frozen=True).exists():
        raise AssessmentFrozen(first)
    figures = assessment_figures(month=first)
    minimum = callback_int("ASSESSMENT_MIN_RATED_VISITS")
    eligible = {
        row["agent_id"]: row["composite"]
        for row in figures
        if row["rated_visits"] >= minimum and row["composite"] is not None
    }
    ranks = competition_ranks(eligible)
    top = callback_int("ASSESSMENT_REWARD_TOP")
    frozen = end <= now
    rows = [
        MonthlyAssessment(
            month=first,
            rank=ranks.get(row["agent_id"]),
            rewarded=ranks.get(row["agent_id"], top + 1) <= top,
            frozen=frozen,
            computed_at=now,
            **row,
        )
        for row in figures
    ]
    try:
        with transaction.atomic():
            if (
                MonthlyAssessment.objects.select_for_update()
                .filter(month=first, frozen=True)
                .exists()
            ):
                raise AssessmentFrozen(first)
            MonthlyAssessment.objects.filter(month=first, frozen=False).delete()
            MonthlyAssessment.objects.bulk_create(rows, batch_size=500)
            audit(
                AuditAction.ASSESSMENT_COMPUTE,
                actor=by,
                object_type="supervision.monthlyassessment",
                object_id=first.isoformat(),
                after={"agents": len(rows), "ranked": len(ranks), "frozen": frozen},
            )
    except IntegrityError as exc:  # another worker computed the month at the same time
        raise AssessmentFrozen(first) from exc
    return len(rows)
