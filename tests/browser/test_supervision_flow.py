"""In a real browser: a supervisor draws a sample, reviews a record with a finding, the agent
acknowledges the corrective action, and the dashboard draws its charts from static Chart.js."""

import datetime as dt

import pytest
from django.test import Client

from supervision.models import AuditReview, CorrectiveAction
from supervision.periods import last_month
from supervision.rollups import rollups_refresh
from tests.supervision.conftest import make_record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, live_server, user):
    client = Client()
    client.force_login(user)
    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


@pytest.mark.spec("8.review")
@pytest.mark.spec("9.dashboard")
def test_sample_review_acknowledge_and_dashboard(pw_page, live_server, branch, agent, supervisor):
    from django.utils import timezone

    first, last = last_month()
    tz = timezone.get_current_timezone()
    submitted = dt.datetime.combine(first + dt.timedelta(days=2), dt.time(10), tzinfo=tz)
    record = make_record(agent=agent, branch=branch, submitted_at=submitted, satisfaction=4)

    page = pw_page
    login(page, live_server, supervisor)
    page.goto(f"{live_server.url}/supervision/samples/")
    # The period defaults to last month.
    assert page.input_value("#id_period_start") == first.isoformat()
    page.fill("#id_rate_percent", "100")
    page.fill("#id_seed", "42")
    page.click("#sample-draw button[type=submit]")
    page.wait_for_selector("#sample-items")
    assert page.inner_text("#progress").replace(" ", "") == "0/1"
    assert page.inner_text("#seed") == "42"
    page.click(f"tr[data-record='{record.pk}'] a.review-link")

    page.wait_for_selector("#review-form")
    # Yes is each item's first choice, no its second; the record raised no escalation, so the
    # escalation item is not asked.
    for name in ("record_complete", "identity_stated", "reminders_given", "handled_in_time"):
        page.check(f"#id_{name}_0")
    page.check("#id_script_followed_1")
    assert page.locator("[name=escalation_justified]").count() == 0
    page.fill("#id_score", "72")
    page.fill("#id_findings", "未按话术完整表明身份")
    page.click("#review-form button[type=submit]")
    page.wait_for_selector("#sample-items")
    assert page.inner_text("#progress").replace(" ", "") == "1/1"
    review = AuditReview.objects.get(item__record=record)
    assert (review.score, review.script_followed, review.identity_stated) == (72, "no", "yes")
    assert review.escalation_justified == "na"

    login(page, live_server, agent)
    page.goto(f"{live_server.url}/visits/")
    page.click("#nav-my-actions")
    action = CorrectiveAction.objects.get(review=review)
    row = page.locator(f"tr[data-action='{action.pk}']")
    assert "未按话术完整表明身份" in row.inner_text()
    row.locator("button").click()
    page.wait_for_selector(f"tr[data-action='{action.pk}'] .badge.ok")
    action.refresh_from_db()
    assert action.acknowledged_at is not None

    rollups_refresh()  # the roll-up job that runs every 5 minutes has run since
    login(page, live_server, supervisor)
    page.goto(
        f"{live_server.url}/supervision/?since={first.isoformat()}&until={dt.date.today().isoformat()}"
    )
    page.wait_for_function("() => document.body.dataset.chartsReady === '8'")
    assert page.locator("canvas[data-chart]").count() == 8
    assert page.evaluate("typeof window.Chart") == "function"
    # Each canvas holds a Chart.js instance; the charts with data got the figures of the page.
    drawn = page.evaluate(
        "Array.from(document.querySelectorAll('canvas[data-chart]')).filter(c => Chart.getChart(c)).length"
    )
    assert drawn == 8
    kinds = page.evaluate(
        "Chart.getChart(document.getElementById('chart-kind')).data.datasets[0].data"
    )
    assert kinds == [1]
    satisfaction = page.evaluate(
        "Chart.getChart(document.getElementById('chart-satisfaction')).data.datasets[0].data"
    )
    assert satisfaction == [4]
    width = page.evaluate("document.getElementById('chart-over-time').width")
    assert width > 0
