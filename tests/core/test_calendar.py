"""The business calendar of mainland China (SPEC §4): holidays, 调休 working weekends, every
due-time unit, and years nobody has loaded yet counted provisionally on Monday-Friday."""

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from core.audit_actions import AuditAction
from core.calendar import (
    Due,
    DueUnit,
    add_business_days,
    business_day_end,
    calendar_status,
    due,
    is_working_day,
)
from core.calendar_plans import CalendarLoadError, plan_parse
from core.models import AuditLogEntry, CalendarDay, CalendarYear

pytestmark = [pytest.mark.django_db, pytest.mark.spec("4.business-calendar")]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def plan_2027(**changes) -> list[dict]:
    """A whole-year plan for 2027: Monday-Friday, with New Year's Day off (enough for tests;
    the real one comes from the State Council)."""
    days = []
    day = date(2027, 1, 1)
    while day.year == 2027:
        working = day.weekday() < 5 and day != date(2027, 1, 1)
        days.append({"date": day.isoformat(), "working": working, "name": ""})
        day += timedelta(days=1)
    days[0]["name"] = "元旦"
    for key, value in changes.items():
        days = value(days) if key == "edit" else days
    return days


def write_csv(path, days) -> str:
    lines = ["date,working,name"] + [
        f"{d['date']},{1 if d['working'] else 0},{d['name']}" for d in days
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


# --- Official data ---------------------------------------------------------------------------


def test_it_loads_every_official_year_from_2005_to_2026():
    assert set(CalendarYear.objects.values_list("year", flat=True)) >= set(range(2005, 2027))
    assert CalendarDay.objects.get(date=date(2025, 10, 1)).is_working_day is False
    assert CalendarDay.objects.get(date=date(2025, 9, 28)).is_working_day is True
    # A past year: National Day 2024 and its makeup Saturday.
    assert is_working_day(date(2024, 10, 1)) is False
    assert is_working_day(date(2024, 10, 12)) is True
    assert is_working_day(date(2005, 10, 3)) is False


def test_it_knows_holidays_and_makeup_working_weekends():
    assert is_working_day(date(2025, 10, 1)) is False  # National Day
    assert is_working_day(date(2025, 10, 8)) is False  # 调休 rest day on a Wednesday
    assert is_working_day(date(2025, 9, 28)) is True  # a Sunday declared a working day
    assert is_working_day(date(2025, 10, 11)) is True  # a Saturday declared a working day
    assert is_working_day(date(2025, 10, 12)) is False  # an ordinary Sunday
    assert is_working_day(date(2025, 10, 9)) is True  # an ordinary Thursday
    assert is_working_day(date(2026, 2, 14)) is True  # Spring Festival makeup Saturday
    assert is_working_day(date(2026, 2, 17)) is False  # Spring Festival


# --- Business days and working hours --------------------------------------------------------


def test_it_adds_business_days_across_the_national_day_break_2025():
    # 2025-10-01..08 off; the 11th (Saturday) works.
    assert add_business_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert add_business_days(date(2025, 9, 30), 5) == date(2025, 10, 14)
    assert add_business_days(date(2025, 9, 26), 1) == date(2025, 9, 28)  # Friday -> working Sunday
    assert add_business_days(date(2025, 9, 30), 0) == date(2025, 9, 30)
    assert due(at(2025, 9, 30, 16, 30), DueUnit.BUSINESS_DAYS, 1) == Due(at(2025, 10, 9, 17, 0))


def test_it_crosses_qingming_2026():
    # 2026-04-04 Sat, 04-05 Sun (清明节), 04-06 Mon (补假): Friday 04-03 -> Tuesday 04-07.
    assert due(at(2026, 4, 3, 10, 0), DueUnit.BUSINESS_DAYS, 1) == Due(at(2026, 4, 7, 17, 0))
    assert due(at(2026, 4, 3, 16, 0), DueUnit.WORKING_HOURS, 2) == Due(at(2026, 4, 7, 10, 0))
    # The day before the break ends at closing time; the last holiday is not a working day.
    assert due(at(2026, 4, 3, 15, 0), DueUnit.WORKING_HOURS, 2) == Due(at(2026, 4, 3, 17, 0))
    assert is_working_day(date(2026, 4, 6)) is False
    assert is_working_day(date(2026, 4, 7)) is True


def test_it_makes_an_account_opened_on_2026_09_30_due_on_2026_10_13():
    result = due(at(2026, 9, 30, 15, 0), DueUnit.BUSINESS_DAYS, 5)
    assert result == Due(at(2026, 10, 13, 17, 0), provisional=False)
    assert business_day_end(date(2026, 10, 13)) == result.at


def test_it_counts_working_hours_within_working_time():
    def hours(start, n):
        return due(start, DueUnit.WORKING_HOURS, n).at

    assert hours(at(2025, 9, 29, 10, 0), 2) == at(2025, 9, 29, 12, 0)
    assert hours(at(2025, 9, 29, 16, 0), 2) == at(2025, 9, 30, 10, 0)
    assert hours(at(2025, 9, 30, 16, 0), 2) == at(2025, 10, 9, 10, 0)
    assert hours(at(2025, 9, 29, 15, 0), 2) == at(2025, 9, 29, 17, 0)
    assert hours(at(2025, 9, 29, 7, 30), 2) == at(2025, 9, 29, 11, 0)
    assert hours(at(2025, 9, 20, 21, 0), 2) == at(2025, 9, 22, 11, 0)
    assert hours(at(2025, 10, 3, 10, 0), 2) == at(2025, 10, 9, 11, 0)


# --- Calling hours (suspected fraud) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (at(2026, 3, 10, 16, 30), at(2026, 3, 10, 18, 30)),
        (at(2026, 3, 10, 19, 30), at(2026, 3, 11, 10, 30)),
        (at(2026, 3, 10, 23, 0), at(2026, 3, 11, 11, 0)),
        # The eve of National Day: calls are allowed on holidays, nothing waits for 10-09.
        (at(2025, 9, 30, 16, 30), at(2025, 9, 30, 18, 30)),
        (at(2025, 10, 1, 10, 0), at(2025, 10, 1, 12, 0)),
        # The 20:00 boundary: one minute left at 19:59; none at 20:00; 18:00 ends at closing.
        (at(2025, 10, 3, 19, 59), at(2025, 10, 4, 10, 59)),
        (at(2025, 10, 3, 20, 0), at(2025, 10, 4, 11, 0)),
        (at(2025, 10, 3, 18, 0), at(2025, 10, 3, 20, 0)),
        (at(2025, 10, 3, 8, 59), at(2025, 10, 3, 11, 0)),
        # A Sunday in a year not loaded: calling time needs no calendar, nothing provisional.
        (at(2027, 3, 7, 9, 0), at(2027, 3, 7, 11, 0)),
    ],
)
def test_it_counts_suspected_fraud_in_calling_hours_every_day(start, expected):
    assert due(start, DueUnit.CALLING_HOURS, 2) == Due(expected, provisional=False)


def test_calling_hours_follow_the_settings(settings):
    settings.CALLBACK = {
        **settings.CALLBACK,
        "CALLING_HOURS_START": datetime.strptime("08:00", "%H:%M").time(),
        "CALLING_HOURS_END": datetime.strptime("21:00", "%H:%M").time(),
    }
    assert due(at(2026, 3, 10, 20, 30), DueUnit.CALLING_HOURS, 2).at == at(2026, 3, 11, 9, 30)


# --- Calendar days (complaints) --------------------------------------------------------------


def test_calendar_days_end_at_the_end_of_the_last_day():
    result = due(at(2026, 12, 20, 10, 0), DueUnit.CALENDAR_DAYS, 15)
    assert result == Due(at(2027, 1, 4, 23, 59, 59), provisional=False)


# --- A year nobody has loaded: provisional, never refused ------------------------------------


def test_a_year_not_loaded_counts_monday_to_friday_provisionally():
    assert not CalendarYear.objects.filter(year=2027).exists()
    assert is_working_day(date(2027, 1, 1)) is True  # a Friday, provisionally
    assert is_working_day(date(2027, 1, 2)) is False
    # Wednesday 2026-12-30 + 5 business days: 12-31, then 2027-01-01, 04, 05, 06.
    assert due(at(2026, 12, 30, 10, 0), DueUnit.BUSINESS_DAYS, 5) == Due(
        at(2027, 1, 6, 17, 0), provisional=True
    )
    # A computation that stays inside 2026 is not provisional, even near the year end.
    assert due(at(2026, 12, 24, 10, 0), DueUnit.BUSINESS_DAYS, 5) == Due(at(2026, 12, 31, 17, 0))
    assert due(at(2026, 12, 31, 16, 0), DueUnit.WORKING_HOURS, 4) == Due(
        at(2027, 1, 1, 12, 0), provisional=True
    )
    assert due(at(2031, 3, 3, 10, 0), DueUnit.BUSINESS_DAYS, 1).provisional is True


def test_it_sees_an_administrators_edit_at_once():
    assert is_working_day(date(2026, 3, 2)) is True
    CalendarDay.objects.create(date=date(2026, 3, 2), is_working_day=False, name="临时休假")
    assert is_working_day(date(2026, 3, 2)) is False


# --- The November warning --------------------------------------------------------------------


def test_it_warns_from_1_november_while_next_year_is_missing():
    assert calendar_status(date(2026, 10, 31)) == "ok"
    assert calendar_status(date(2026, 11, 1)) == "next year missing: 2027"
    assert calendar_status(date(2026, 12, 31)) == "next year missing: 2027"
    CalendarYear.objects.create(year=2027, source="test")
    assert calendar_status(date(2026, 11, 1)) == "ok"
    assert calendar_status(date(2027, 1, 10)) == "ok"


# --- Loading a year ---------------------------------------------------------------------------


def test_the_command_loads_a_later_year_from_a_csv_file(tmp_path):
    call_command("load_calendar", "2027", "--file", write_csv(tmp_path / "2027.csv", plan_2027()))
    assert CalendarYear.objects.get(year=2027).source == "file 2027.csv"
    assert is_working_day(date(2027, 1, 1)) is False
    assert due(at(2026, 12, 31, 10, 0), DueUnit.BUSINESS_DAYS, 1) == Due(at(2027, 1, 4, 17, 0))
    entry = AuditLogEntry.objects.get(action=AuditAction.CALENDAR_YEAR_LOAD)
    assert entry.object_id == "2027"


def test_the_command_loads_a_json_file_with_makeup_days(tmp_path):
    def makeup_saturday(days):
        days[8]["working"] = True  # 2027-01-09, a Saturday
        return days

    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"days": plan_2027(edit=makeup_saturday)}), encoding="utf-8")
    call_command("load_calendar", "2027", "--file", str(path))
    assert is_working_day(date(2027, 1, 9)) is True
    # Only the exceptions to Monday-Friday are kept.
    assert set(CalendarDay.objects.filter(date__year=2027).values_list("date", flat=True)) == {
        date(2027, 1, 1),
        date(2027, 1, 9),
    }


def _csv(days) -> str:
    return "date,working,name\n" + "\n".join(
        f"{d['date']},{1 if d['working'] else 0},{d['name']}" for d in days
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_csv(plan_2027()[:-1]), "缺少 1 个日期：2027-12-31"),
        (_csv(plan_2027()[:200]), "缺少 165 个日期：2027-07-20, 2027-07-21"),
        (_csv(plan_2027() + plan_2027()[:1]), "第 367 行：2027-01-01 重复出现"),
        (_csv(plan_2027()).replace("2027-02-30", "x") + "\n2027-02-30,1,", "2027-02-30"),
        (_csv(plan_2027()).replace("2027-03-01,1", "2027-03-01,maybe"), "working 应为 1 或 0"),
        (_csv(plan_2027()).replace("2027-03-01,1,", "2027-03-01,,"), "缺少 working"),
        (_csv(plan_2027()).replace("2027-12-31", "2028-01-01"), "2028-01-01 不属于 2027 年"),
        ("day,working\n2027-01-01,0\n", "列名 date,working,name"),
    ],
)
def test_a_plan_file_with_a_fault_is_refused_with_the_fault_named(text, message):
    with pytest.raises(CalendarLoadError, match=message):
        plan_parse(year=2027, text=text, file_format="csv")


def test_a_json_plan_with_a_fault_is_refused():
    with pytest.raises(CalendarLoadError, match="JSON 格式错误"):
        plan_parse(year=2027, text="{", file_format="json")
    with pytest.raises(CalendarLoadError, match="第 2 项"):
        plan_parse(year=2027, text='[{"date": "2027-01-01", "working": 0}, 3]', file_format="json")
    with pytest.raises(CalendarLoadError, match=r"\.csv 或 \.json"):
        plan_parse(year=2027, text="", file_format="xlsx")


def test_the_command_names_the_file_and_stores_nothing_on_error(tmp_path):
    path = write_csv(tmp_path / "short.csv", plan_2027()[:10])
    with pytest.raises(CommandError, match="short.csv: 缺少 355 个日期"):
        call_command("load_calendar", "2027", "--file", path)
    assert not CalendarYear.objects.filter(year=2027).exists()
    assert not CalendarDay.objects.filter(date__year=2027).exists()


def test_the_command_asks_for_a_file_for_a_year_without_an_official_plan():
    with pytest.raises(CommandError, match="--file"):
        call_command("load_calendar", "2027")
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_the_command_refuses_a_loaded_year_without_force_and_reloads_with_it():
    with pytest.raises(CommandError, match="--force"):
        call_command("load_calendar", "2026")
    CalendarDay.objects.filter(date=date(2026, 10, 1)).delete()
    call_command("load_calendar", "2026", "--force")
    assert CalendarDay.objects.get(date=date(2026, 10, 1)).is_working_day is False
    assert CalendarDay.objects.get(date=date(2026, 10, 10)).is_working_day is True


def test_the_command_reloads_an_earlier_official_year():
    CalendarDay.objects.filter(date__year=2024).delete()
    CalendarYear.objects.filter(year=2024).delete()
    call_command("load_calendar", "2024")
    assert is_working_day(date(2024, 10, 1)) is False
    assert is_working_day(date(2024, 10, 12)) is True  # 调休 Saturday


@time_machine.travel(at(2026, 11, 29, 10, 0), tick=False)
def test_the_admin_uploads_a_plan_for_a_later_year(client, django_user_model, settings, tmp_path):
    settings.CALLBACK = {**settings.CALLBACK, "REQUIRE_2FA": False}  # the second factor aside
    admin = django_user_model.objects.create_superuser("root", password="x-Long-Passw0rd!")
    client.force_login(admin)
    path = write_csv(tmp_path / "2027.csv", plan_2027())
    url = "/admin/core/calendaryear/upload/"
    assert client.get(url).status_code == 200
    with open(path, "rb") as handle:
        response = client.post(url, {"year": "2027", "file": handle})
    assert response.status_code == 302
    assert is_working_day(date(2027, 1, 1)) is False
    assert AuditLogEntry.objects.get(action=AuditAction.CALENDAR_YEAR_LOAD).actor == admin
    # A second upload of the same year without "replace" is refused on the form.
    with open(path, "rb") as handle:
        response = client.post(url, {"year": "2027", "file": handle})
    assert response.status_code == 200
    assert "--force" in response.content.decode()
