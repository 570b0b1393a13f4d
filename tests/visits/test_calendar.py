"""The business calendar of mainland China (SPEC §4): holidays, 调休 working weekends, and the
refusal to guess a year nobody has loaded."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from core.calendar import (
    CalendarNotCovered,
    add_business_days,
    add_working_hours,
    business_day_end,
    due_after_business_days,
    is_working_day,
)
from core.models import CalendarDay, CalendarYear

pytestmark = [pytest.mark.django_db, pytest.mark.spec("4.business-calendar")]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_it_loads_2025_and_2026_from_the_official_plan():
    assert set(CalendarYear.objects.values_list("year", flat=True)) >= {2025, 2026}
    assert CalendarDay.objects.get(date=date(2025, 10, 1)).is_working_day is False
    assert CalendarDay.objects.get(date=date(2025, 9, 28)).is_working_day is True


def test_it_knows_holidays_and_makeup_working_weekends():
    assert is_working_day(date(2025, 10, 1)) is False  # National Day
    assert is_working_day(date(2025, 10, 8)) is False  # 调休 rest day on a Wednesday
    assert is_working_day(date(2025, 9, 28)) is True  # a Sunday declared a working day
    assert is_working_day(date(2025, 10, 11)) is True  # a Saturday declared a working day
    assert is_working_day(date(2025, 10, 12)) is False  # an ordinary Sunday
    assert is_working_day(date(2025, 10, 9)) is True  # an ordinary Thursday
    assert is_working_day(date(2026, 2, 14)) is True  # Spring Festival makeup Saturday
    assert is_working_day(date(2026, 2, 17)) is False  # Spring Festival


def test_it_adds_business_days_across_the_national_day_break():
    # 2025-10-01..08 off; the 11th (Saturday) works.
    assert add_business_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert add_business_days(date(2025, 9, 30), 5) == date(2025, 10, 14)
    assert add_business_days(date(2025, 9, 26), 1) == date(2025, 9, 28)  # Friday -> working Sunday
    assert add_business_days(date(2025, 9, 30), 0) == date(2025, 9, 30)


def test_it_makes_an_account_opened_on_2026_09_30_due_on_2026_10_13():
    due = due_after_business_days(at(2026, 9, 30, 15, 0), 5)
    assert due == at(2026, 10, 13, 17, 0)
    assert business_day_end(date(2026, 10, 13)) == due


def test_it_counts_working_hours_within_working_time():
    assert add_working_hours(at(2025, 9, 29, 10, 0), 2) == at(2025, 9, 29, 12, 0)
    # 16:00 + 2h: one hour today, one after the next opening (the 30th is a working Tuesday).
    assert add_working_hours(at(2025, 9, 29, 16, 0), 2) == at(2025, 9, 30, 10, 0)
    # 16:00 on the last day before National Day: the rest lands after the break.
    assert add_working_hours(at(2025, 9, 30, 16, 0), 2) == at(2025, 10, 9, 10, 0)
    # Ending exactly at closing time stays on the same day.
    assert add_working_hours(at(2025, 9, 29, 15, 0), 2) == at(2025, 9, 29, 17, 0)


def test_it_starts_outside_working_time_at_the_next_opening():
    assert add_working_hours(at(2025, 9, 29, 7, 30), 2) == at(2025, 9, 29, 11, 0)
    assert add_working_hours(at(2025, 9, 29, 22, 0), 2) == at(2025, 9, 30, 11, 0)
    # Saturday night of a normal weekend -> Monday.
    assert add_working_hours(at(2025, 9, 20, 21, 0), 2) == at(2025, 9, 22, 11, 0)
    # A holiday -> the first working day after it.
    assert add_working_hours(at(2025, 10, 3, 10, 0), 2) == at(2025, 10, 9, 11, 0)


def test_it_refuses_a_year_nobody_loaded():
    with pytest.raises(CalendarNotCovered):
        is_working_day(date(2027, 3, 1))
    with pytest.raises(CalendarNotCovered):
        add_business_days(date(2026, 12, 30), 5)  # runs into 2027


def test_it_sees_an_administrators_edit_at_once():
    assert is_working_day(date(2026, 3, 2)) is True
    CalendarDay.objects.create(date=date(2026, 3, 2), is_working_day=False, name="临时休假")
    assert is_working_day(date(2026, 3, 2)) is False
    CalendarYear.objects.create(year=2027, source="admin")
    CalendarDay.objects.create(date=date(2027, 1, 1), is_working_day=False, name="元旦")
    assert is_working_day(date(2027, 1, 1)) is False
    assert is_working_day(date(2027, 1, 4)) is True


def test_the_command_refuses_years_without_an_official_plan():
    with pytest.raises(CommandError, match="admin"):
        call_command("load_calendar", "2027")
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_the_command_refuses_a_loaded_year_without_force_and_reloads_with_it():
    with pytest.raises(CommandError, match="--force"):
        call_command("load_calendar", "2026")
    CalendarDay.objects.filter(date=date(2026, 10, 1)).delete()
    call_command("load_calendar", "2026", "--force")
    assert CalendarDay.objects.get(date=date(2026, 10, 1)).is_working_day is False
    assert CalendarDay.objects.get(date=date(2026, 10, 10)).is_working_day is True


def test_the_command_loads_an_earlier_official_year():
    call_command("load_calendar", "2024")
    assert is_working_day(date(2024, 10, 1)) is False
    assert is_working_day(date(2024, 10, 12)) is True  # 调休 Saturday
