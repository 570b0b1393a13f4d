"""The visit's lifecycle: the table of allowed status changes and the one way to make them.

Every write of ``Visit.status`` goes through ``visit_transition`` (one visit the caller holds
locked) or ``visits_transition`` (a conditional UPDATE of many); a change the table does not
list raises ``VisitTransitionError`` and leaves the row as it was. Creating a visit (always
``pending``) is not a transition. The audit entry is the calling service's: it knows why.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from visits.models import Visit, VisitStatus

S = VisitStatus

# from -> the statuses it may change to. Anything not listed is refused; completed, unreachable
# and cancelled are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    # claimed or assigned; contacted straight away; closed by SMS or questionnaire, the fallback
    # ladder giving up, or the account closing
    S.PENDING: frozenset({S.ASSIGNED, S.IN_PROGRESS, S.COMPLETED, S.UNREACHABLE, S.CANCELLED}),
    # back to the pool when the agent is absent
    S.ASSIGNED: frozenset({S.PENDING, S.IN_PROGRESS, S.COMPLETED, S.UNREACHABLE, S.CANCELLED}),
    # every further contact attempt keeps it in progress
    S.IN_PROGRESS: frozenset({S.IN_PROGRESS, S.COMPLETED, S.UNREACHABLE, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.UNREACHABLE: frozenset(),
    S.CANCELLED: frozenset(),
}

# Statuses that require an agent (the check constraint assigned_visit_has_agent).
_HELD = (S.ASSIGNED, S.IN_PROGRESS)


class VisitTransitionError(Exception):
    """A status change the transition table refuses, or one that lost a race."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def transition_allowed(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, ())


def statuses_allowed_to(to_status: str) -> list[str]:
    """The statuses a visit may be in to change to ``to_status``."""
    return [status for status, targets in TRANSITIONS.items() if to_status in targets]


def _label(status: str) -> str:
    return str(S(status).label) if status in S.values else status


def _refused(from_status: str, to_status: str) -> VisitTransitionError:
    return VisitTransitionError(
        gettext("回访状态不能从“%(from)s”变为“%(to)s”。")
        % {"from": _label(from_status), "to": _label(to_status)}
    )


def _side_fields(to: str, *, now: datetime, reason: str) -> dict:
    """The fields that change with the status, whatever the path."""
    if to == S.PENDING:
        return {"assigned_to": None, "assigned_at": None}
    if to == S.COMPLETED:
        return {"completed_at": now, "callback_at": None}
    if to == S.UNREACHABLE:
        return {"unreachable_reason": reason, "callback_at": None}
    if to == S.CANCELLED:
        return {"cancelled_reason": reason[:200]}
    return {}


def visit_transition(
    *,
    visit: Visit,
    to: str,
    by=None,
    reason: str = "",
    now: datetime | None = None,
    fields: Iterable[str] = (),
) -> Visit:
    """Change the status of ``visit`` (which the caller holds locked) to ``to``.

    ``by`` is the agent acting: the visit becomes theirs when it is assigned or first worked,
    and stays with whoever held it when it completes. ``reason`` goes to the unreachable or
    cancelled reason. ``fields`` names further attributes the caller has set on the instance,
    written in the same UPDATE. The UPDATE is conditional on the status read, so a visit
    changed meanwhile raises instead of being overwritten."""
    now = now or timezone.now()
    before = visit.status
    if not transition_allowed(before, to):
        raise _refused(before, to)
    changes = _side_fields(to, now=now, reason=reason)
    if to == S.ASSIGNED:
        changes.update(assigned_to=by or visit.assigned_to, assigned_at=now)
    elif to == S.IN_PROGRESS:
        changes.update(assigned_to=by or visit.assigned_to, assigned_at=visit.assigned_at or now)
    elif to == S.COMPLETED:
        changes["assigned_to"] = visit.assigned_to or by
    if to in _HELD and changes["assigned_to"] is None:
        raise VisitTransitionError(gettext("已分配或进行中的回访必须有回访人员。"))
    for name, value in changes.items():
        setattr(visit, name, value)
    values = {name: getattr(visit, name) for name in [*changes, *fields]}
    done = Visit.objects.filter(pk=visit.pk, status=before).update(
        status=to, updated_at=now, **values
    )
    if not done:
        raise VisitTransitionError(gettext("该回访的状态已被他人更改，请刷新后重试。"))
    visit.status = to
    visit.updated_at = now
    return visit


def visits_transition(
    queryset: QuerySet[Visit],
    *,
    to: str,
    reason: str = "",
    now: datetime | None = None,
    **values,
) -> int:
    """Set-based ``visit_transition``: one conditional UPDATE of the visits of ``queryset``
    whose current status may change to ``to`` (the others are left alone). ``values`` are
    further fields to set (``assigned_to`` is required for assigned). Returns the number of
    visits changed."""
    if to not in S.values:
        raise VisitTransitionError(gettext("未知的回访状态：%(to)s") % {"to": to})
    now = now or timezone.now()
    changes = {**_side_fields(to, now=now, reason=reason), **values}
    if to == S.ASSIGNED:
        changes.setdefault("assigned_at", now)
    if to in _HELD and changes.get("assigned_to", changes.get("assigned_to_id")) is None:
        raise VisitTransitionError(gettext("已分配或进行中的回访必须有回访人员。"))
    return queryset.filter(status__in=statuses_allowed_to(to)).update(
        status=to, updated_at=now, **changes
    )
