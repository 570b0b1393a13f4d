"""The worklist's rows, worked out in Python (workspace/worklist.py), show exactly what the
template's filters and tags used to: labels of the codes, local times, the link to the call
screen, the row's class and its badges."""

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from tests.visits.workspace_helpers import CALL_TIME, open_visit

pytestmark = [pytest.mark.django_db]


def _row(html: str, pk: int) -> str:
    match = re.search(rf'<tr class="([^"]*)" data-visit="{pk}">(.*?)</tr>', html, re.S)
    assert match, f"no row for visit {pk}"
    return match.group(1) + "|" + " ".join(match.group(2).split())


@time_machine.travel(CALL_TIME, tick=False)
def test_a_row_shows_labels_local_times_link_class_and_badges(client, agent, branch):
    flagged = open_visit(
        branch, agent=agent, kind="special_event", status="in_progress", priority=77,
        suspected_fraud=True, due_provisional=True, phone_attempts=2,
        due_at=CALL_TIME - dt.timedelta(hours=3),
        callback_at=CALL_TIME + dt.timedelta(minutes=10),
    )  # fmt: skip
    near = open_visit(
        branch, agent=agent, kind="periodic", due_at=CALL_TIME + dt.timedelta(hours=1)
    )
    later = open_visit(branch, agent=agent, due_at=CALL_TIME + dt.timedelta(days=2))
    client.force_login(agent)
    html = client.get(reverse("workspace:worklist")).content.decode()

    row = _row(html, flagged.pk)
    href = reverse("workspace:call_screen", args=[flagged.pk])
    assert row.startswith("overdue|")
    assert f'<a href="{href}">{flagged.pk}</a>' in row
    assert '特殊情况回访 <span class="badge bad">疑似欺诈</span>' in row
    assert flagged.account.customer.name in row and flagged.account.masked_number in row
    assert f'data-label="网点">{branch.name}<' in row
    assert 'data-label="优先级">77<' in row
    # Shanghai time, as the date filter showed it; then the provisional, overdue and call-back
    # badges.
    assert 'data-label="到期">2026-12-01 07:00<span class="badge-provisional"' in row
    assert '<span class="badge bad">逾期</span> <span class="badge warn">回拨 10:10</span>' in row
    assert 'data-label="状态">进行中<' in row and 'data-label="尝试">2<' in row

    assert _row(html, near.pk).startswith("near|")
    assert "定期回访" in _row(html, near.pk)
    plain = _row(html, later.pk)
    assert plain.startswith("|") and "badge" not in plain


@time_machine.travel(CALL_TIME, tick=False)
def test_an_appointment_row_shows_its_time_kind_customer_and_account(client, agent, branch):
    visit = open_visit(
        branch, agent=agent, kind="periodic", status="in_progress",
        callback_at=CALL_TIME + dt.timedelta(days=1, hours=2, minutes=5),
    )  # fmt: skip
    client.force_login(agent)
    html = client.get(reverse("workspace:worklist")).content.decode()
    table = html[html.index('<table id="appointments"') : html.index('<table id="worklist"')]
    cells = " ".join(table.split())
    href = reverse("workspace:call_screen", args=[visit.pk])
    assert f'<a href="{href}">{visit.pk}</a>' in cells
    assert 'data-label="预约时间">2026-12-02 12:05<' in cells
    assert 'data-label="类型">定期回访<' in cells
    assert visit.account.customer.name in cells and visit.account.masked_number in cells


@time_machine.travel(CALL_TIME, tick=False)
def test_the_pages_chosen_by_id_keep_the_worklist_order_across_pages(client, agent, branch):
    visits = [
        open_visit(
            branch,
            agent=agent,
            priority=10 + n % 7,
            due_at=CALL_TIME + dt.timedelta(hours=n % 5 - 2, minutes=n),
        )  # fmt: skip
        for n in range(60)
    ]
    # Call-backs whose time has come (within the 15 minutes' lead) come first, whatever their
    # due time and priority.
    for n, visit in enumerate(visits[::20]):
        visit.callback_at = CALL_TIME + dt.timedelta(minutes=5 + n)
        visit.save()
    expected = sorted(
        visits,
        key=lambda v: (
            0 if v.callback_at else 1 if v.due_at < CALL_TIME else 2,
            -v.priority,
            v.due_at,
            v.pk,
        ),
    )
    client.force_login(agent)
    url = reverse("workspace:worklist")
    first = client.get(url).context["page"]
    second = client.get(url, {"page": 2}).context["page"]
    assert [v.pk for v in first.object_list] == [v.pk for v in expected[:50]]
    assert [v.pk for v in second.object_list] == [v.pk for v in expected[50:]]
    assert (first.has_next(), second.has_next(), second.paginator.num_pages) == (True, False, 2)


@pytest.mark.postgres
def test_postgresql_has_the_worklists_covering_index():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'visit_agent_open_cover'")
        (definition,) = cursor.fetchone()
    assert "(assigned_to_id, status)" in definition
    assert "INCLUDE (id, branch_id, kind, priority, due_at, callback_at)" in definition
    assert "assigned_to_id IS NOT NULL" in definition and "'in_progress'" in definition


@time_machine.travel(CALL_TIME, tick=False)
def test_every_value_of_a_row_is_escaped(client, agent, branch):
    listed = open_visit(branch, agent=agent)
    booked = open_visit(
        branch, agent=agent, status="in_progress", callback_at=CALL_TIME + dt.timedelta(days=1)
    )
    for visit in (listed, booked):
        customer = visit.account.customer
        customer.name = '<b>"王&李"</b> {pk}'
        customer.save()
    branch.name = "<i>网点</i>"
    branch.save()
    client.force_login(agent)
    html = client.get(reverse("workspace:worklist")).content.decode()
    assert "<b>" not in html and "<i>" not in html
    assert html.count("&lt;b&gt;&quot;王&amp;李&quot;&lt;/b&gt; {pk}") == 2
    assert 'data-label="网点">&lt;i&gt;网点&lt;/i&gt;<' in _row(html, listed.pk)
