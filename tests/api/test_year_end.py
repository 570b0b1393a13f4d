"""The calendar's year end (SPEC §4 "Calendar never drops work"), through the API: 2027 is not
loaded in December 2026, so due times in it are provisional (Monday-Friday), nothing is
refused, deferred or lost, and everything is recomputed when 2027 is loaded, however late."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from core.api import health as health_module
from core.models import CalendarYear
from visits.models import Visit

from .conftest import customer_body

pytestmark = [pytest.mark.django_db, pytest.mark.spec("4.business-calendar")]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def plan_2027_csv(tmp_path) -> str:
    """2027 as an administrator would enter it: here New Year's Day off and the rest
    Monday-Friday (enough to tell an official plan from the provisional week)."""
    lines = ["date,working,name"]
    day = date(2027, 1, 1)
    while day.year == 2027:
        working = day.weekday() < 5 and day != date(2027, 1, 1)
        lines.append(
            f"{day.isoformat()},{1 if working else 0},{'元旦' if day.day == 1 == day.month else ''}"
        )
        day += timedelta(days=1)
    path = tmp_path / "2027.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def open_account(api, number: str, opened_on: date):
    return api.put(
        f"/api/v1/accounts/{number}",
        {
            "customer_external_id": "C0001",
            "account_type": "personal_savings",
            "status": "active",
            "opened_on": opened_on.isoformat(),
            "branch_code": "BJ001",
        },
        format="json",
    )


# Opening day -> (due time of the new-account visit while 2027 is missing, provisional?, due
# time once 2027 is loaded with 2027-01-01 off). Five business days after the opening day.
YEAR_END = {
    date(2026, 12, 24): (at(2026, 12, 31, 17), False, at(2026, 12, 31, 17)),
    date(2026, 12, 25): (at(2027, 1, 1, 17), True, at(2027, 1, 4, 17)),
    date(2026, 12, 28): (at(2027, 1, 4, 17), True, at(2027, 1, 5, 17)),
    date(2026, 12, 29): (at(2027, 1, 5, 17), True, at(2027, 1, 6, 17)),
    date(2026, 12, 30): (at(2027, 1, 6, 17), True, at(2027, 1, 7, 17)),
    date(2026, 12, 31): (at(2027, 1, 7, 17), True, at(2027, 1, 8, 17)),
}


def test_accounts_opened_at_the_year_end_get_provisional_visits_recomputed_when_2027_is_loaded(
    api, branch, tmp_path
):
    assert not CalendarYear.objects.filter(year=2027).exists()
    with time_machine.travel(at(2026, 12, 24, 9), tick=False):
        api.put("/api/v1/customers/C0001", customer_body(), format="json")
    for opened_on in sorted(YEAR_END):
        number = f"62220200{opened_on:%m%d}0000"
        with time_machine.travel(
            at(opened_on.year, opened_on.month, opened_on.day, 15), tick=False
        ):
            assert open_account(api, number, opened_on).status_code == 201
    visits = {
        v.account.opened_on: v
        for v in Visit.objects.filter(kind="new_account").select_related("account")
    }
    assert set(visits) == set(YEAR_END)  # every account got its visit, none deferred
    for opened_on, (due_at, provisional, _later) in YEAR_END.items():
        assert (visits[opened_on].due_at, visits[opened_on].due_provisional) == (
            due_at,
            provisional,
        )
    with time_machine.travel(at(2026, 12, 31, 16), tick=False):
        listed = api.get("/api/v1/visits", {"kind": "new_account"}).json()
    flags = {row["due_at"][:10]: row["due_provisional"] for row in listed["results"]}
    assert flags["2026-12-31"] is False and flags["2027-01-07"] is True
    # 2027 is entered 45 days after the last opening: more than the 30-day look-back.
    with time_machine.travel(at(2027, 2, 14, 10), tick=False):
        call_command("load_calendar", "2027", "--file", plan_2027_csv(tmp_path))
    for opened_on, (_due_at, _provisional, later) in YEAR_END.items():
        visit = Visit.objects.get(pk=visits[opened_on].pk)
        assert (visit.due_at, visit.due_provisional) == (later, False)
    assert Visit.objects.filter(kind="new_account").count() == len(YEAR_END)


def test_an_account_opened_event_for_an_account_opened_in_2024_makes_a_visit(api, branch):
    with time_machine.travel(at(2026, 11, 28, 11), tick=False):
        api.put("/api/v1/customers/C0001", customer_body(), format="json")
        # Opened long ago: no automatic event from the PUT (the window is long closed) ...
        assert open_account(api, "6222020099990001", date(2024, 9, 27)).status_code == 201
        assert not Visit.objects.exists()
        # ... but core banking's own event is never skipped.
        response = api.post(
            "/api/v1/events",
            {
                "event_id": "CB-OPEN-2024",
                "type": "account_opened",
                "account_number": "6222020099990001",
                "occurred_at": "2024-09-27T10:00:00+08:00",
            },
            format="json",
        )
    assert response.status_code == 201
    visit = Visit.objects.get(kind="new_account")
    # 2024-09-27 (Friday) + 5 business days on 2024's plan: 09-29 (a 调休 Sunday), 09-30,
    # then National Day 10-01..07, 10-08, 10-09, 10-10.
    assert (visit.due_at, visit.due_provisional) == (at(2024, 10, 10, 17), False)
    assert response.json()["visits"][0]["due_provisional"] is False


def test_the_health_answer_warns_from_1_november_while_next_year_is_missing(anonymous, monkeypatch):
    monkeypatch.setattr(health_module, "_broker_ok", lambda: True)
    with time_machine.travel(at(2026, 10, 31, 12), tick=False):
        response = anonymous.get("/api/v1/health")
    assert (response.status_code, response.json()["calendar"]) == (200, "ok")
    with time_machine.travel(at(2026, 11, 1, 0, 1), tick=False):
        response = anonymous.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {
        "database": "ok",
        "broker": "ok",
        "calendar": "next year missing: 2027",
    }
    CalendarYear.objects.create(year=2027, source="test")
    with time_machine.travel(at(2026, 11, 29, 12), tick=False):
        assert anonymous.get("/api/v1/health").json()["calendar"] == "ok"
