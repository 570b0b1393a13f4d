"""The November warning (SPEC §4): from 1 November a missing next year shows on /metrics and
the supervisor dashboard; provisional due times carry a "暂定" badge where they are shown."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from core.models import CalendarYear
from tests.factories import AccountFactory, VisitFactory

pytestmark = [pytest.mark.django_db, pytest.mark.spec("4.business-calendar")]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _missing(client) -> dict[str, float]:
    text = client.get("/metrics").content.decode()
    return {
        year: float(value)
        for year, value in re.findall(
            r'^callback_calendar_next_year_missing\{year="(\d+)"\} (\S+)$', text, re.M
        )
    }


def test_metrics_expose_the_missing_next_year_from_1_november(client):
    with time_machine.travel(at(2026, 10, 31, 23, 0), tick=False):
        assert _missing(client) == {"2027": 0.0}
    cache.clear()
    with time_machine.travel(at(2026, 11, 1, 8, 0), tick=False):
        assert _missing(client) == {"2027": 1.0}
    cache.clear()
    CalendarYear.objects.create(year=2027, source="test")
    with time_machine.travel(at(2026, 11, 29, 8, 0), tick=False):
        assert _missing(client) == {"2027": 0.0}


def test_the_supervisor_dashboard_warns_from_1_november(client, supervisor):
    with time_machine.travel(at(2026, 10, 31, 10, 0), tick=False):
        client.force_login(supervisor)  # the session's idle clock runs on the frozen time
        html = client.get(reverse("supervision:dashboard")).content.decode()
    assert 'id="calendar-warning"' not in html
    with time_machine.travel(at(2026, 11, 29, 10, 0), tick=False):
        client.force_login(supervisor)
        html = client.get(reverse("supervision:dashboard")).content.decode()
    assert 'id="calendar-warning"' in html and "2027" in html
    CalendarYear.objects.create(year=2027, source="test")
    with time_machine.travel(at(2026, 11, 29, 10, 0), tick=False):
        html = client.get(reverse("supervision:dashboard")).content.decode()
    assert 'id="calendar-warning"' not in html


def test_the_worklist_marks_a_provisional_due_time(client, agent, account):
    provisional = VisitFactory(
        account=account,
        status="assigned",
        assigned_to=agent,
        due_at=at(2027, 1, 7, 17, 0),
        due_provisional=True,
    )
    plain = VisitFactory(
        account=AccountFactory(customer=account.customer), status="assigned", assigned_to=agent
    )
    with time_machine.travel(at(2026, 12, 28, 10, 0), tick=False):
        client.force_login(agent)
        html = client.get(reverse("workspace:worklist")).content.decode()
    badges = {
        int(match.group(1)): "badge-provisional" in match.group(0)
        for match in re.finditer(r'<tr[^>]*data-visit="(\d+)".*?</tr>', html, re.S)
    }
    assert badges == {provisional.pk: True, plain.pk: False}
    assert "暂定" in html
