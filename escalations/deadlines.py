"""Escalation deadlines on the business calendar, and when a follow-up visit comes due."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core import calendar as business_calendar
from escalations.actions import ACTIVE_STATUSES, EscalationError
from escalations.models import Escalation, Urgency

logger = logging.getLogger(__name__)


DEFAULT_DEADLINES = {
    Urgency.URGENT: ("working_hours", 4),
    Urgency.HIGH: ("business_days", 1),
    Urgency.NORMAL: ("business_days", 3),
}


# --- Deadlines ------------------------------------------------------------------------------


def _callback(key, default):
    return settings.CALLBACK.get(key, default)


def escalation_deadline(*, urgency: str, start: datetime) -> datetime:
    """The deadline of an escalation opened (or reopened) at ``start``, counted on the business
    calendar: urgent 4 working hours, high 1 business day, normal 3 business days by default
    (``CALLBACK["ESCALATION_DEADLINES"]``)."""

    deadlines = _callback("ESCALATION_DEADLINES", DEFAULT_DEADLINES)
    if urgency not in deadlines:
        raise EscalationError(_("紧急程度无效：%(value)s") % {"value": urgency}, field="urgency")
    unit, amount = deadlines[urgency]
    try:
        if unit == "working_hours":
            return business_calendar.add_working_hours(start, amount)
        if unit == "business_days":
            return business_calendar.due_after_business_days(start, amount)
    except business_calendar.CalendarNotCovered as exc:
        raise EscalationError(
            _(
                "业务日历未覆盖该日期，无法计算处理时限；请系统管理员先导入节假日安排。（%(detail)s）"
            )
            % {"detail": exc}
        ) from exc
    raise EscalationError(_("处理时限单位无效：%(value)s") % {"value": unit})


def follow_up_due(start: datetime) -> datetime:
    days = _callback("ESCALATION_FOLLOW_UP_BUSINESS_DAYS", 1)
    try:
        return business_calendar.due_after_business_days(start, days)
    except business_calendar.CalendarNotCovered as exc:
        raise EscalationError(
            _(
                "业务日历未覆盖该日期，无法安排跟踪回访；请系统管理员先导入节假日安排。（%(detail)s）"
            )
            % {"detail": exc}
        ) from exc


def near_deadline_threshold(now: datetime | None = None) -> datetime:
    """An active escalation whose deadline falls before this moment is "near its deadline":
    less than one working hour left (one calendar computation per page, not per row)."""

    now = now or timezone.now()
    try:
        return business_calendar.add_working_hours(now, 1)
    except business_calendar.CalendarNotCovered:
        return now + timedelta(hours=1)


def raise_after() -> timedelta:
    return timedelta(hours=_callback("ESCALATION_RAISE_AFTER_HOURS", 24))


def escalations_raised(queryset: QuerySet[Escalation], now: datetime | None = None):
    """Active escalations raised to the supervisors: missed a deadline twice or more, or
    overdue by more than ``ESCALATION_RAISE_AFTER_HOURS``."""
    now = now or timezone.now()
    return queryset.filter(status__in=ACTIVE_STATUSES).filter(
        Q(overdue_count__gte=2) | Q(deadline_at__lt=now - raise_after())
    )
