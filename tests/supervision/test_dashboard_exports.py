"""Dashboards (SPEC §9): figures are database aggregates over the user's scope. Exports: CSV and
Excel, streamed, masked unless revealed, audit-logged."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import AuditLogEntry
from supervision.models import MonthlyAssessment
from supervision.rollups import rollups_refresh
from supervision.selectors import dashboard_data
from tests.factories import AccountFactory, CustomerFactory, VisitFactory

from .conftest import at, make_record

pytestmark = [pytest.mark.django_db]

NOW = at(2026, 11, 20, 12)


@pytest.fixture
def visits(branch, other_branch, agent, other_agent):
    """In BJ001 between 1 and 19 Nov: 3 periodic (1 done, 1 open overdue, 1 open not yet due),
    1 new-account done. In SH001: 2 visits that a BJ001 supervisor must not count."""

    def visit(kind, status, due, who=agent, at_branch=branch):
        account = AccountFactory(customer=CustomerFactory(branch=at_branch, name="张伟"))
        return VisitFactory(
            account=account,
            kind=kind,
            status=status,
            due_at=due,
            assigned_to=who if status != "pending" else None,
            completed_at=due - dt.timedelta(hours=1) if status == "completed" else None,
        )

    visit("periodic", "completed", at(2026, 11, 3))
    visit("periodic", "assigned", at(2026, 11, 5))
    visit("periodic", "pending", at(2026, 11, 25))
    visit("new_account", "completed", at(2026, 11, 6))
    visit("periodic", "assigned", at(2026, 11, 5), other_agent, other_branch)
    visit("special_event", "completed", at(2026, 11, 5), other_agent, other_branch)


@pytest.mark.spec("9.dashboard", clause="八.2")
def test_the_figures_are_scoped_aggregates(visits, supervisor, agent, branch):
    make_record(agent=agent, branch=branch, submitted_at=at(2026, 11, 4), satisfaction=4)
    make_record(agent=agent, branch=branch, submitted_at=at(2026, 11, 4, 15), satisfaction=2)
    MonthlyAssessment.objects.create(
        agent=agent, month=dt.date(2026, 10, 1), composite=70, rank=1, rewarded=True
    )
    with time_machine.travel(NOW):
        rollups_refresh()  # the beat job: closed days are read from the daily roll-ups
        data = dashboard_data(
            user=supervisor, since=dt.date(2026, 11, 1), until=dt.date(2026, 11, 30)
        )
    kinds = {row["kind"]: (row["due"], row["done"], row["overdue"]) for row in data["by_kind"]}
    # The two make_record visits are due the day after their record (5 Nov), completed.
    assert kinds == {"periodic": (5, 3, 1), "new_account": (1, 1, 0)}
    assert data["totals"] == {"due": 6, "done": 4, "overdue": 1}
    assert [row["branch__code"] for row in data["by_branch"]] == ["BJ001"]
    assert data["satisfaction"] == {"labels": ["2026-11-04"], "average": [3.0]}
    assert data["ranking_month"] == "2026-10-01"
    assert data["ranking"][0]["agent__username"] == agent.username
    assert sum(data["over_time"]["due"]) == 6


@pytest.mark.spec("9.dashboard")
def test_the_page_renders_in_a_fixed_number_of_queries(client, visits, supervisor, agent, branch):
    client.force_login(supervisor)
    client.get(reverse("supervision:dashboard"))  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        response = client.get(
            reverse("supervision:dashboard"), {"since": "2026-11-01", "until": "2026-11-30"}
        )
    assert response.status_code == 200
    for day in range(1, 20):
        make_record(agent=agent, branch=branch, submitted_at=at(2026, 11, day), satisfaction=5)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("supervision:dashboard"), {"since": "2026-11-01", "until": "2026-11-30"})
    # session, user, profile, the grouped aggregates (kind, branch, agent, day, attempts,
    # records, escalations, ranking month, ranking, totals) and the nav: the same for 6 or 25 visits
    assert len(many) == len(few)
    html = response.content.decode()
    assert "js/chart.umd.min.js" in html and 'id="dashboard-data"' in html
    assert "cdn" not in html.lower()


@pytest.mark.spec("9.dashboard")
def test_agents_may_not_see_the_dashboard(client, agent):
    client.force_login(agent)
    assert client.get(reverse("supervision:dashboard")).status_code == 403


def export(client, name, fmt, **params):
    return client.get(reverse("supervision:export", args=[name, fmt]), params)


def read_csv(response):
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


@pytest.mark.spec("9.export")
def test_the_csv_export_streams_masked_rows(client, visits, supervisor):
    client.force_login(supervisor)
    response = export(client, "visits", "csv", since="2026-11-01", until="2026-11-30")
    assert response.status_code == 200 and response.streaming
    rows = read_csv(response)
    assert rows[0][:3] == ["编号", "回访类型", "状态"]
    assert len(rows) == 1 + 4  # BJ001 only
    account, name = rows[1][4], rows[1][5]
    assert "****" in account and name == "张*"
    entry = AuditLogEntry.objects.filter(action="export.download").latest("pk")
    assert entry.object_type == "export.visits" and entry.after["unmasked"] is False


@pytest.mark.spec("9.export")
def test_unmasked_only_when_asked_and_allowed(client, visits, supervisor, monkeypatch):
    client.force_login(supervisor)
    rows = read_csv(export(client, "visits", "csv", unmasked="1"))
    assert rows[1][5] == "张伟" and "*" not in rows[1][4]
    assert (
        AuditLogEntry.objects.filter(action="export.download").latest("pk").after["unmasked"]
        is True
    )
    monkeypatch.setattr("supervision.views.may_reveal_personal_data", lambda user: False)
    assert export(client, "visits", "csv", unmasked="1").status_code == 403


@pytest.mark.spec("9.export")
def test_the_excel_export_is_a_workbook(client, visits, supervisor, branch, agent):
    from openpyxl import load_workbook

    make_record(agent=agent, branch=branch, submitted_at=at(2026, 11, 4), satisfaction=4)
    client.force_login(supervisor)
    response = export(client, "records", "xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][0] == "编号" and len(rows) == 2
    assert rows[1][10] == 4 and "*" in rows[1][9]  # after the agent's name and username


@pytest.mark.spec("9.export")
@pytest.mark.parametrize("name", ["escalations", "reviews", "rankings"])
def test_every_list_exports(client, supervisor, name):
    client.force_login(supervisor)
    for fmt in ("csv", "xlsx"):
        response = export(client, name, fmt)
        assert response.status_code == 200
    assert (
        AuditLogEntry.objects.filter(action="export.download", object_type=f"export.{name}").count()
        == 2
    )


@pytest.mark.spec("9.export")
def test_bad_export_requests_are_400_not_500(client, supervisor, agent):
    client.force_login(supervisor)
    assert export(client, "customers", "csv").status_code == 400
    assert export(client, "visits", "pdf").status_code == 400
    response = export(client, "visits", "csv", since="2026-13-01")
    assert response.status_code == 400 and b"since" in response.content
    client.force_login(agent)
    assert export(client, "visits", "csv").status_code == 403
