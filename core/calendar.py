"""Mainland China's business calendar (SPEC §4) and every due-time computation.

Holidays and the weekend days declared working days (调休) are data in CalendarYear/CalendarDay.
``due(start, unit, amount)`` is the one way to compute a due time; it answers a ``Due``: the
moment and whether it is provisional. A year with no CalendarYear row is never refused: its
days count provisionally as Monday to Friday, and the answer says so (``provisional``), so the
caller stores ``due_provisional`` and the due time is recomputed when the year is loaded
(``core.calendar_plans.calendar_year_load``).

Nothing is cached across calls: every public function reads the (tiny) table, so an
administrator's edit counts at once in every process. A ``BusinessCalendar`` instance memoises
the years it has read, for the length of one job or one batch only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.config import callback_time
from core.models import CalendarDay, CalendarYear

logger = logging.getLogger(__name__)

# The `holidays` package (0.109) carries the official 调休 makeup workdays for these years only;
# later years are estimates of the lunar holidays without the makeup days, never used.
FIRST_OFFICIAL_YEAR = 2005
LAST_OFFICIAL_YEAR = 2026

# Steps through at most this many days looking for a working day (a year of holidays would be
# wrong data; the scan then stops rather than loop).
_MAX_SCAN_DAYS = 3 * 366


class DueUnit:
    """The units a due time is counted in (the values stored in policies and rules)."""

    BUSINESS_DAYS = "business_days"  # end of working time of the N-th business day after
    WORKING_HOURS = "working_hours"  # WORKDAY_START-WORKDAY_END on business days
    CALENDAR_DAYS = "calendar_days"  # end of the N-th calendar day after (regulator's clocks)
    CALLING_HOURS = "calling_hours"  # CALLING_HOURS_START-END on every day, holidays included

    ALL = (BUSINESS_DAYS, WORKING_HOURS, CALENDAR_DAYS, CALLING_HOURS)


@dataclass(frozen=True)
class Due:
    """A due time, and whether it rests on a calendar year not loaded yet (Monday-Friday)."""

    at: datetime
    provisional: bool = False


class CalendarError(Exception):
    """The calendar data cannot answer (a year of holidays, an unknown unit)."""


def business_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _workday_start() -> time:
    return callback_time("WORKDAY_START")


def _workday_end() -> time:
    return callback_time("WORKDAY_END")


def end_of_day(d: date) -> datetime:
    """The last moment of ``d`` in the bank's time zone (complaint deadlines, SPEC §8)."""
    return datetime.combine(d, time(23, 59, 59), tzinfo=business_tz())


def _as_date(value) -> date:
    """A date column as read by a cursor (SQLite gives text)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


class BusinessCalendar:
    """Reads each year it needs once (two small queries) and remembers it for its own life.
    ``missing`` collects the years it had to assume Monday-Friday for."""

    def __init__(self):
        self._years: dict[int, dict[date, bool] | None] = {}
        self.missing: set[int] = set()

    def _exceptions(self, year: int) -> dict[date, bool] | None:
        if year not in self._years:
            # One query: the year, if loaded, with its days (none: a row of NULLs).
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT d.date, d.is_working_day FROM {CalendarYear._meta.db_table} y "
                    f"LEFT JOIN {CalendarDay._meta.db_table} d "
                    "ON d.date >= %s AND d.date <= %s WHERE y.year = %s",
                    [date(year, 1, 1), date(year, 12, 31), year],
                )
                rows = cursor.fetchall()
            self._years[year] = (
                {_as_date(day): bool(working) for day, working in rows if day is not None}
                if rows
                else None
            )
        return self._years[year]

    def is_loaded(self, year: int) -> bool:
        return self._exceptions(year) is not None

    def is_working_day(self, d: date) -> bool:
        """Official when the year is loaded; otherwise Monday-Friday, and the year is noted."""
        exceptions = self._exceptions(d.year)
        if exceptions is None:
            self.missing.add(d.year)
            return d.weekday() < 5
        if d in exceptions:
            return exceptions[d]
        return d.weekday() < 5

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        for _ in range(_MAX_SCAN_DAYS):
            d += timedelta(days=1)
            if self.is_working_day(d):
                return d
        raise CalendarError(f"no working day after {d}: the calendar data is wrong")

    def add_business_days(self, d: date, n: int) -> date:
        """The n-th business day after ``d`` (``d`` itself does not count; n=0 returns d)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        for _ in range(n):
            d = self.next_working_day(d)
        return d

    def business_day_end(self, d: date) -> datetime:
        return datetime.combine(d, _workday_end(), tzinfo=business_tz())

    def due_after_business_days(self, start: datetime, n: int) -> datetime:
        local_day = timezone.localtime(start, business_tz()).date()
        return self.business_day_end(self.add_business_days(local_day, n))

    def add_working_hours(self, start: datetime, hours: float | int) -> datetime:
        """``start`` plus ``hours`` of working time (WORKDAY_START-WORKDAY_END on working days).
        A start outside working time counts from the next opening."""
        return self._add_open_hours(start, hours, _workday_start(), _workday_end(), every_day=False)

    def add_calling_hours(self, start: datetime, hours: float | int) -> datetime:
        """``start`` plus ``hours`` of calling time (CALLING_HOURS_START-END, every day,
        holidays included: calls are allowed every day). A start outside calling time counts
        from the next opening: 19:30 + 2 h is 10:30 the next morning."""
        return self._add_open_hours(
            start,
            hours,
            callback_time("CALLING_HOURS_START"),
            callback_time("CALLING_HOURS_END"),
            every_day=True,
        )

    def _add_open_hours(self, start, hours, opening: time, closing: time, *, every_day: bool):
        if hours < 0:
            raise ValueError("hours must be >= 0")
        tz = business_tz()
        current = timezone.localtime(start, tz)
        remaining = timedelta(hours=hours)

        def next_open_day(day: date) -> date:
            return day + timedelta(days=1) if every_day else self.next_working_day(day)

        for _ in range(_MAX_SCAN_DAYS):
            day = current.date()
            day_open = datetime.combine(day, opening, tzinfo=tz)
            day_close = datetime.combine(day, closing, tzinfo=tz)
            if (not every_day and not self.is_working_day(day)) or current >= day_close:
                current = datetime.combine(next_open_day(day), opening, tzinfo=tz)
                continue
            current = max(current, day_open)
            available = day_close - current
            if remaining <= available:
                return current + remaining
            remaining -= available
            current = datetime.combine(next_open_day(day), opening, tzinfo=tz)
        raise CalendarError(f"no opening after {start}: the calendar data is wrong")

    def due(self, start: datetime, unit: str, amount: int | float) -> Due:
        """The due time ``amount`` ``unit`` after ``start`` (see ``DueUnit``)."""
        self.missing = set()
        if unit == DueUnit.BUSINESS_DAYS:
            at = self.due_after_business_days(start, int(amount))
        elif unit == DueUnit.WORKING_HOURS:
            at = self.add_working_hours(start, amount)
        elif unit == DueUnit.CALLING_HOURS:
            at = self.add_calling_hours(start, amount)
        elif unit == DueUnit.CALENDAR_DAYS:
            at = end_of_day(
                timezone.localtime(start, business_tz()).date() + timedelta(days=amount)
            )
        else:
            raise CalendarError(f"unknown due unit {unit!r}")
        if self.missing:
            logger.debug(
                "due time provisional: calendar year not loaded",
                extra={"years": sorted(self.missing), "unit": unit},
            )
        return Due(at=at, provisional=bool(self.missing))


# --- Module-level functions: one fresh read of the table per call ------------------------------


def due(start: datetime, unit: str, amount: int | float) -> Due:
    return BusinessCalendar().due(start, unit, amount)


def is_working_day(d: date) -> bool:
    return BusinessCalendar().is_working_day(d)


def add_business_days(d: date, n: int) -> date:
    return BusinessCalendar().add_business_days(d, n)


def business_day_end(d: date) -> datetime:
    return BusinessCalendar().business_day_end(d)


def calling_days(moments) -> set[date]:
    """The distinct local calendar days of ``moments``: calls are allowed every day, so for the
    phone ladder every day counts, weekends and holidays included (SPEC §4)."""
    return {timezone.localtime(moment, business_tz()).date() for moment in moments}


def loaded_years() -> list[int]:
    return list(CalendarYear.objects.values_list("year", flat=True))


def next_year_missing(today: date | None = None) -> int | None:
    """From 1 November, next year when its holiday plan is not loaded yet; otherwise None."""
    today = today or timezone.localdate(timezone=business_tz())
    if today.month >= 11 and not CalendarYear.objects.filter(year=today.year + 1).exists():
        return today.year + 1
    return None


def calendar_status(today: date | None = None) -> str:
    """``"ok"``, or from 1 November ``"next year missing: YYYY"`` while next year's plan is not
    loaded (a warning for health, /metrics and the supervisor dashboard)."""
    missing = next_year_missing(today)
    return "ok" if missing is None else f"next year missing: {missing}"
