"""The agent's day in a real browser: log in, take the next visit, a failed attempt, a reached
one, the record refused without a security reminder, then completed; the visit leaves the list."""

import datetime as dt

import pytest
import time_machine

from tests.factories import AccountFactory, CustomerFactory, VisitFactory
from tests.fixtures import PASSWORD
from visits.models import Visit, VisitRecord

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
# Inside calling hours (09:00-20:00): the server refuses calls outside them.
MORNING = dt.datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)


@pytest.mark.spec("2.record")
def test_an_agent_takes_the_next_visit_and_completes_it(live_server, pw_page, agent, branch):
    page = pw_page
    with time_machine.travel(MORNING, tick=True):
        account = AccountFactory(customer=CustomerFactory(branch=branch))
        visit = VisitFactory(account=account, due_at=MORNING - dt.timedelta(hours=2), priority=80)

        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", agent.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/visits/")
        assert page.locator("#worklist").inner_text().count("张伟") == 0

        page.click("#claim-next")
        page.wait_for_url(f"**/visits/{visit.pk}/")
        assert "138****8000" in page.locator("#customer").inner_text()
        assert "13800138000" not in page.content()

        page.select_option("select[name='a-outcome']", "no_answer")
        page.click("#attempt-submit")
        page.locator("#attempts tr[data-outcome='no_answer']").wait_for()
        assert Visit.objects.get(pk=visit.pk).status == "in_progress"

        page.select_option("select[name='a-outcome']", "reached")
        page.click("#attempt-submit")
        page.locator("#attempts tr[data-outcome='reached']").wait_for()
        page.locator("#record-form").wait_for()

        page.check("input[name='r-mobile_status'][value='confirmed']")
        page.check("input[name='r-reminder_anti_fraud']")
        page.select_option("select[name='r-satisfaction']", "4")
        page.fill("textarea[name='r-feedback']", "客户表示账户使用正常")
        page.click("#record-submit")
        error = page.locator("#field-r-reminder_safe_operation .errorlist")
        error.wait_for()
        assert "安全操作" in error.inner_text()
        assert not VisitRecord.objects.filter(visit=visit).exists()

        assert page.is_checked("input[name='r-reminder_anti_fraud']")
        page.check("input[name='r-reminder_safe_operation']")
        page.click("#record-submit")
        page.wait_for_url("**/visits/")
        assert f"#{visit.pk}" in page.locator(".messages").inner_text()
        assert page.locator(f"#worklist tr[data-visit='{visit.pk}']").count() == 0

    visit.refresh_from_db()
    assert visit.status == "completed"
    record = VisitRecord.objects.get(visit=visit)
    assert (record.satisfaction, record.mobile_status) == (4, "confirmed")
    assert list(visit.attempts.values_list("outcome", flat=True)) == ["no_answer", "reached"]
