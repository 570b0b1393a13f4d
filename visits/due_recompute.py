"""Provisional visit due times recomputed when a calendar year is loaded (SPEC §4).

A due time that needed a year not loaded yet was computed on Monday-Friday and stored with
``due_provisional``; once the year is loaded, the same computation runs again from the same
facts: the opening day and policy of a new-account visit, the triggering events and rules of a
special-event visit (the earliest wins, as when the events joined the visit). Follow-up visits
are recomputed by the escalations that made them (``escalations.deadlines``).
"""

from __future__ import annotations

from collections import defaultdict

from core.calendar import BusinessCalendar, Due
from core.calendar_plans import register_recompute
from core.pg import rows_update
from visits.models import Visit, VisitKind, VisitTrigger
from visits.rules import due_from, new_account_due


def _special_event_due(calendar: BusinessCalendar, triggers) -> Due | None:
    dues = [
        due_from(calendar, t.event.occurred_at, t.rule.due_unit, t.rule.due_amount)
        for t in triggers
        if t.rule is not None
    ]
    return min(dues, key=lambda d: d.at) if dues else None


def visit_dues_recompute(calendar: BusinessCalendar) -> int:
    """Recompute the provisional due times of open new-account and special-event visits.
    Returns the number of visits whose due time or flag changed."""
    visits = list(
        Visit.objects.open()
        .select_for_update(of=("self",))
        .filter(due_provisional=True, kind__in=(VisitKind.NEW_ACCOUNT, VisitKind.SPECIAL_EVENT))
        .select_related("account", "policy")
        .order_by("pk")
    )
    triggers = defaultdict(list)
    for trigger in VisitTrigger.objects.filter(
        visit__in=[v.pk for v in visits if v.kind == VisitKind.SPECIAL_EVENT]
    ).select_related("event", "rule"):
        triggers[trigger.visit_id].append(trigger)
    changed = []
    for visit in visits:
        if visit.kind == VisitKind.NEW_ACCOUNT:
            new = new_account_due(calendar, visit.account.opened_on, visit.policy)
        else:
            new = _special_event_due(calendar, triggers[visit.pk])
        if new is None or (new.at, new.provisional) == (visit.due_at, True):
            continue
        visit.due_at, visit.due_provisional = new.at, new.provisional
        changed.append(visit)
    rows_update(changed, ["due_at", "due_provisional"])
    return len(changed)


register_recompute("visits", visit_dues_recompute)
