"""Daily use in a real browser: no work lost when the session expires, take next when the pool
is empty, forms that say what is wrong and where, error pages with a way back, the phone."""

import datetime as dt

import pytest
import time_machine
from django.contrib.sessions.models import Session

from tests.factories import AccountFactory, CustomerFactory, VisitFactory
from tests.fixtures import PASSWORD
from visits.models import VisitRecord
from workspace.services import attempt_log

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
MORNING = dt.datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def morning(settings):
    settings.CSRF_COOKIE_AGE = None  # the browser keeps its own clock
    with time_machine.travel(MORNING, tick=True):
        yield


def sign_in(page, live_server, user, path="/login/"):
    page.goto(f"{live_server.url}{path}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def reached_visit(agent, branch, **kwargs):
    account = AccountFactory(customer=CustomerFactory(branch=branch))
    visit = VisitFactory(
        account=account, assigned_to=agent, assigned_at=MORNING, status="assigned", **kwargs
    )
    attempt_log(visit=visit, agent=agent, outcome="reached")
    return visit


def test_a_record_typed_before_the_session_expired_is_restored_and_submitted(
    live_server, pw_page, agent, branch, morning
):
    page = pw_page
    visit = reached_visit(agent, branch)
    sign_in(page, live_server, agent)
    page.wait_for_url("**/visits/")
    page.goto(f"{live_server.url}/visits/{visit.pk}/")
    page.check("input[name='r-mobile_status'][value='confirmed']")
    page.fill("textarea[name='r-feedback']", "客户说明了很多情况，通话持续了四十分钟")
    page.check("input[name='r-reminder_anti_fraud']")
    page.locator("#draft-status", has_text="草稿已保存").wait_for()

    Session.objects.all().delete()  # the session expires during the long call
    page.check("input[name='r-reminder_safe_operation']")
    page.click("#record-submit")
    page.wait_for_url("**/login/**")
    assert not VisitRecord.objects.filter(visit=visit).exists()

    page.fill("#id_username", agent.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/visits/{visit.pk}/")
    page.locator("#draft-restored").wait_for()
    feedback = page.locator("textarea[name='r-feedback']").input_value()
    assert feedback == "客户说明了很多情况，通话持续了四十分钟"
    assert page.is_checked("input[name='r-reminder_anti_fraud']")
    assert page.is_checked("input[name='r-reminder_safe_operation']")
    assert page.is_checked("input[name='r-mobile_status'][value='confirmed']")

    page.click("#record-submit")
    page.wait_for_url("**/visits/")
    record = VisitRecord.objects.get(visit=visit)
    assert record.feedback == "客户说明了很多情况，通话持续了四十分钟"


def test_the_page_warns_before_the_session_expires_and_keeps_it_on_request(
    live_server, pw_page, agent, branch, morning
):
    page = pw_page
    page.clock.install()
    sign_in(page, live_server, agent)
    page.wait_for_url("**/visits/")
    warning = page.locator("#session-warning")
    assert warning.is_hidden()
    page.clock.fast_forward("14:05")  # 15 minutes idle by default: warned 2 minutes before
    warning.wait_for(state="visible")
    with page.expect_response("**/session/keepalive/") as answer:
        page.click("#stay-signed-in")
    assert answer.value.status == 204
    warning.wait_for(state="hidden")
    page.clock.fast_forward("15:05")
    page.locator("#session-expired").wait_for(state="visible")
    assert page.locator("#relogin").get_attribute("href").endswith("?next=/visits/")


def test_take_next_finds_the_agents_own_visit_when_every_visit_is_assigned(
    live_server, pw_page, agent, other_agent, branch, morning
):
    page = pw_page
    later = VisitFactory(
        account=AccountFactory(customer=CustomerFactory(branch=branch)),
        assigned_to=agent, assigned_at=MORNING, status="assigned",
        due_at=MORNING + dt.timedelta(days=3),
    )  # fmt: skip
    sooner = VisitFactory(
        account=AccountFactory(customer=CustomerFactory(branch=branch)),
        assigned_to=agent, assigned_at=MORNING, status="assigned",
        due_at=MORNING + dt.timedelta(hours=5),
    )  # fmt: skip
    VisitFactory(
        account=AccountFactory(customer=CustomerFactory(branch=branch)),
        assigned_to=other_agent, assigned_at=MORNING, status="assigned",
        due_at=MORNING - dt.timedelta(days=1),
    )  # fmt: skip
    sign_in(page, live_server, agent)
    page.wait_for_url("**/visits/")
    page.click("#claim-next")
    page.wait_for_url(f"**/visits/{sooner.pk}/")
    assert later.pk != sooner.pk


def test_a_plain_visit_of_the_record_address_shows_the_call_screen(
    live_server, pw_page, agent, branch, morning
):
    page = pw_page
    visit = reached_visit(agent, branch)
    sign_in(page, live_server, agent)
    page.wait_for_url("**/visits/")
    response = page.goto(f"{live_server.url}/visits/{visit.pk}/record/")
    assert response.status == 200
    assert page.url.endswith(f"/visits/{visit.pk}/")
    page.locator("#record-form").wait_for()
