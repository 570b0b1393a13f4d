"""Reading escalations: statistics and the timeline of each."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from escalations.actions import ACTIVE_STATUSES
from escalations.models import Escalation

logger = logging.getLogger(__name__)


# --- Statistics -----------------------------------------------------------------------------


def escalation_stats(
    *, since: datetime, until: datetime, queryset: QuerySet[Escalation] | None = None
) -> list[dict]:
    """Per department, for escalations opened in [since, until): how many were opened,
    resolved within their deadline, ever overdue (or overdue now), the average time from
    opening to resolution, and the share reopened at least once. One aggregate query; pass a
    scoped ``queryset`` (``escalations_visible_to(user)``) for a user's view."""
    now = timezone.now()
    base = queryset if queryset is not None else Escalation.objects.all()
    rows = (
        base.filter(created_at__gte=since, created_at__lt=until)
        .order_by()
        .values("department_id", "department__code", "department__name")
        .annotate(
            opened=Count("pk"),
            resolved=Count("pk", filter=Q(resolved_at__isnull=False)),
            resolved_in_time=Count(
                "pk", filter=Q(resolved_at__isnull=False, resolved_at__lte=F("deadline_at"))
            ),
            overdue=Count(
                "pk",
                filter=Q(overdue_count__gt=0) | Q(status__in=ACTIVE_STATUSES, deadline_at__lt=now),
            ),
            reopened=Count("pk", filter=Q(round__gt=1)),
            avg_resolve=Avg(
                ExpressionWrapper(F("resolved_at") - F("created_at"), output_field=DurationField()),
                filter=Q(resolved_at__isnull=False),
            ),
        )
        .order_by("department__code")
    )
    stats = []
    for row in rows:
        avg = row["avg_resolve"]
        if avg is not None and not isinstance(avg, timedelta):
            avg = timedelta(microseconds=avg)  # SQLite returns microseconds
        stats.append(
            {
                "department_id": row["department_id"],
                "department_code": row["department__code"],
                "department": row["department__name"],
                "opened": row["opened"],
                "resolved": row["resolved"],
                "resolved_in_time": row["resolved_in_time"],
                "overdue": row["overdue"],
                "reopened": row["reopened"],
                "avg_time_to_resolve": avg,
                "reopen_rate": round(row["reopened"] / row["opened"], 4) if row["opened"] else 0.0,
            }
        )
    return stats


# --- Reading --------------------------------------------------------------------------------


def escalations_with_timeline(queryset: QuerySet[Escalation]) -> QuerySet[Escalation]:
    """What ``templates/escalations/_timeline.html`` needs, in a fixed number of queries."""
    return queryset.select_related("department", "handler", "opened_by").prefetch_related(
        "steps__by"
    )
