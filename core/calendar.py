"""Mainland China's business calendar (SPEC §4): holidays and the weekend days declared
working days (调休), kept as data in CalendarYear/CalendarDay.

A year with no CalendarYear row is refused (``CalendarNotCovered``): the State Council
publishes each year's plan late in the previous year, and guessing it would put due dates on
holidays. Nothing is cached across calls: every public function reads the (tiny) table, so an
administrator's edit in the admin counts at once in every process. A ``BusinessCalendar``
instance memoises the years it has read, for the length of one job or one batch only.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.models import CalendarDay, CalendarYear

logger = logging.getLogger(__name__)

# The `holidays` package (0.109) carries the official 调休 makeup workdays up to this year only;
# later years are estimates of the lunar holidays without the makeup days.
OFFICIAL_SOURCE = "holidays {version} (国务院办公厅节假日安排)"
LAST_OFFICIAL_YEAR = 2026
FIRST_OFFICIAL_YEAR = 2005

# Steps through at most this many days looking for a working day before giving up.
_MAX_SCAN_DAYS = 3 * 366


class CalendarNotCovered(Exception):
    """The business calendar has no data for this year: an administrator must load it."""

    def __init__(self, year: int):
        super().__init__(f"business calendar has no data for {year}")
        self.year = year


def business_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _workday_start() -> time:
    return settings.CALLBACK["WORKDAY_START"]


def _workday_end() -> time:
    return settings.CALLBACK["WORKDAY_END"]


class BusinessCalendar:
    """Reads each year it needs once (two small queries) and remembers it for its own life."""

    def __init__(self):
        self._years: dict[int, dict[date, bool]] = {}

    def _exceptions(self, year: int) -> dict[date, bool]:
        if year not in self._years:
            if not CalendarYear.objects.filter(year=year).exists():
                raise CalendarNotCovered(year)
            self._years[year] = dict(
                CalendarDay.objects.filter(
                    date__gte=date(year, 1, 1), date__lte=date(year, 12, 31)
                ).values_list("date", "is_working_day")
            )
        return self._years[year]

    def is_working_day(self, d: date) -> bool:
        exceptions = self._exceptions(d.year)
        if d in exceptions:
            return exceptions[d]
        return d.weekday() < 5

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        for _ in range(_MAX_SCAN_DAYS):
            d += timedelta(days=1)
            if self.is_working_day(d):
                return d
        raise CalendarNotCovered(d.year)  # a year of holidays: the data is wrong

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
        if hours < 0:
            raise ValueError("hours must be >= 0")
        tz = business_tz()
        opening, closing = _workday_start(), _workday_end()
        current = timezone.localtime(start, tz)
        remaining = timedelta(hours=hours)
        for _ in range(_MAX_SCAN_DAYS):
            day = current.date()
            day_open = datetime.combine(day, opening, tzinfo=tz)
            day_close = datetime.combine(day, closing, tzinfo=tz)
            if not self.is_working_day(day) or current >= day_close:
                current = datetime.combine(self.next_working_day(day), opening, tzinfo=tz)
                continue
            current = max(current, day_open)
            available = day_close - current
            if remaining <= available:
                return current + remaining
            remaining -= available
            current = datetime.combine(self.next_working_day(day), opening, tzinfo=tz)
        raise CalendarNotCovered(current.year)


# --- Module-level functions: one fresh read of the table per call ------------------------------


def is_working_day(d: date) -> bool:
    return BusinessCalendar().is_working_day(d)


def add_business_days(d: date, n: int) -> date:
    return BusinessCalendar().add_business_days(d, n)


def business_day_end(d: date) -> datetime:
    return BusinessCalendar().business_day_end(d)


def due_after_business_days(start: datetime, n: int) -> datetime:
    return BusinessCalendar().due_after_business_days(start, n)


def add_working_hours(start: datetime, hours: float | int) -> datetime:
    return BusinessCalendar().add_working_hours(start, hours)


# --- Loading the official calendar ----------------------------------------------------------


class CalendarLoadError(Exception):
    pass


def official_days(year: int) -> list[tuple[date, bool, str]]:
    """(date, is_working_day, name) for every exception to the Monday-Friday week in ``year``,
    from the `holidays` package: holidays (not working) and 调休 weekend workdays (working)."""
    import holidays

    if not FIRST_OFFICIAL_YEAR <= year <= LAST_OFFICIAL_YEAR:
        raise CalendarLoadError(
            f"{year}: the holidays package has no official plan for this year "
            f"(covered: {FIRST_OFFICIAL_YEAR}-{LAST_OFFICIAL_YEAR}); enter it in the admin"
        )
    china = holidays.China(years=year, language="zh_CN")
    days: dict[date, tuple[bool, str]] = {}
    for day, name in china.items():
        if day.year == year:
            days[day] = (False, str(name)[:100])
    for day in china.weekend_workdays:
        if day.year == year:
            days[day] = (True, "调休上班")
    return [(day, working, name) for day, (working, name) in sorted(days.items())]


def official_source() -> str:
    import holidays

    return OFFICIAL_SOURCE.format(version=holidays.__version__)[:100]


def calendar_load(*, year: int, force: bool = False, year_model=None, day_model=None) -> int:
    """Load the official plan of ``year``. Refuses a year already loaded unless ``force``
    (which replaces that year's days). The model arguments let a data migration pass its
    historical models. Returns the number of days written."""
    year_model = year_model or CalendarYear
    day_model = day_model or CalendarDay
    days = official_days(year)
    with transaction.atomic():
        if year_model.objects.filter(year=year).exists() and not force:
            raise CalendarLoadError(f"{year} is already loaded; use --force to replace it")
        day_model.objects.filter(date__gte=date(year, 1, 1), date__lte=date(year, 12, 31)).delete()
        day_model.objects.bulk_create(
            [day_model(date=d, is_working_day=w, name=name) for d, w, name in days]
        )
        year_model.objects.update_or_create(
            year=year, defaults={"source": official_source(), "loaded_at": timezone.now()}
        )
    logger.info("calendar loaded", extra={"year": year, "days": len(days)})
    return len(days)
