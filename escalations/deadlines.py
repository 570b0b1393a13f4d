"""Escalation deadlines on the business calendar, and when a follow-up visit comes due."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.calendar import BusinessCalendar, Due, DueUnit, due
from core.calendar_plans import register_recompute
from escalations.actions import ACTIVE_STATUSES, Action, EscalationError
from escalations.models import Escalation, EscalationStep, Urgency
from visits.models import Visit, VisitKind

logger = logging.getLogger(__name__)


DEFAULT_DEADLINES = {
    Urgency.URGENT: ("working_hours", 4),
    Urgency.HIGH: ("business_days", 1),
    Urgency.NORMAL: ("business_days", 3),
}


# --- Deadlines ------------------------------------------------------------------------------


def _callback(key, default):
    return settings.CALLBACK.get(key, default)


def escalation_deadline(
    *, urgency: str, start: datetime, calendar: BusinessCalendar | None = None
) -> Due:
    """The deadline of an escalation opened (or reopened) at ``start``, counted on the business
    calendar: urgent 4 working hours, high 1 business day, normal 3 business days by default
    (``CALLBACK["ESCALATION_DEADLINES"]``). A deadline in a year not loaded yet is provisional
    (Monday-Friday), never refused: the record that raises it is saved all the same."""

    deadlines = _callback("ESCALATION_DEADLINES", DEFAULT_DEADLINES)
    if urgency not in deadlines:
        raise EscalationError(_("紧急程度无效：%(value)s") % {"value": urgency}, field="urgency")
    unit, amount = deadlines[urgency]
    if unit not in (DueUnit.WORKING_HOURS, DueUnit.BUSINESS_DAYS):
        raise EscalationError(_("处理时限单位无效：%(value)s") % {"value": unit})
    return (calendar or BusinessCalendar()).due(start, unit, amount)


def follow_up_due(start: datetime, calendar: BusinessCalendar | None = None) -> Due:
    days = _callback("ESCALATION_FOLLOW_UP_BUSINESS_DAYS", 1)
    return (calendar or BusinessCalendar()).due(start, DueUnit.BUSINESS_DAYS, days)


def near_deadline_threshold(now: datetime | None = None) -> datetime:
    """An active escalation whose deadline falls before this moment is "near its deadline":
    less than one working hour left (one calendar computation per page, not per row)."""

    return due(now or timezone.now(), DueUnit.WORKING_HOURS, 1).at


# --- Recomputing provisional deadlines when a calendar year is loaded -------------------------


def escalation_deadlines_recompute(calendar: BusinessCalendar) -> int:
    """Recompute the provisional deadlines of active escalations from the start of their
    current round (opening or last reopening). Returns the number changed."""
    changed = 0
    escalations = Escalation.objects.filter(status__in=ACTIVE_STATUSES, due_provisional=True)
    starts = dict(
        EscalationStep.objects.filter(
            escalation__in=escalations, action__in=(Action.OPEN, Action.REOPEN)
        )
        .values_list("escalation_id")
        .annotate(start=Max("at"))
    )
    for escalation in escalations.select_for_update().order_by("pk"):
        start = starts.get(escalation.pk, escalation.created_at)
        deadline = escalation_deadline(urgency=escalation.urgency, start=start, calendar=calendar)
        if (deadline.at, deadline.provisional) != (escalation.deadline_at, True):
            Escalation.objects.filter(pk=escalation.pk).update(
                deadline_at=deadline.at, due_provisional=deadline.provisional
            )
            changed += 1
    return changed


def follow_up_visits_recompute(calendar: BusinessCalendar) -> int:
    """Recompute the provisional due times of open follow-up visits from the moment the
    customer was told the result (the earliest such reply of the escalations they follow)."""
    changed = 0
    visits = Visit.objects.open().filter(kind=VisitKind.FOLLOW_UP, due_provisional=True)
    starts = dict(
        EscalationStep.objects.filter(escalation__follow_up_visit__in=visits, action=Action.REPLY)
        .values_list("escalation__follow_up_visit_id")
        .annotate(start=Min("at"))
    )
    for visit in visits.select_for_update().order_by("pk"):
        if visit.pk not in starts:
            continue
        new = follow_up_due(starts[visit.pk], calendar)
        if (new.at, new.provisional) != (visit.due_at, True):
            Visit.objects.filter(pk=visit.pk).update(due_at=new.at, due_provisional=new.provisional)
            changed += 1
    return changed


def raise_after() -> timedelta:
    return timedelta(hours=_callback("ESCALATION_RAISE_AFTER_HOURS", 24))


def escalations_raised(queryset: QuerySet[Escalation], now: datetime | None = None):
    """Active escalations raised to the supervisors: missed a deadline twice or more, or
    overdue by more than ``ESCALATION_RAISE_AFTER_HOURS``."""
    now = now or timezone.now()
    return queryset.filter(status__in=ACTIVE_STATUSES).filter(
        Q(overdue_count__gte=2) | Q(deadline_at__lt=now - raise_after())
    )


register_recompute("escalations", escalation_deadlines_recompute)
register_recompute("follow_up_visits", follow_up_visits_recompute)
