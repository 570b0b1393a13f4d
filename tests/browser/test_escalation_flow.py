"""The whole escalation loop in a browser: the agent escalates from the call screen, the
security handler accepts and resolves in the inbox, the agent replies to the customer, the
follow-up visit appears in the agent's worklist, the customer is unsatisfied so the escalation
reopens, and after a second round the satisfied customer closes it."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from escalations.models import Escalation, EscalationStatus
from tests.factories import VisitFactory
from visits.models import Visit, VisitKind

pytestmark = [pytest.mark.spec("7.escalation"), pytest.mark.browser]


@pytest.fixture
def beijing_morning(settings):
    import time_machine

    # The browser keeps its own clock: a CSRF cookie dated from the travelled server time would
    # look expired to it, so the cookie lives for the browser session instead.
    settings.CSRF_COOKIE_AGE = None
    start = timezone.make_aware(dt.datetime(2025, 9, 10, 10, 0))
    with time_machine.travel(start, tick=True):
        yield


@pytest.fixture
def calendar_2025(transactional_db):
    from core.calendar_plans import calendar_year_load

    calendar_year_load(year=2025, force=True)  # a live-server test starts from a flushed database


def login(page, live_server, user):
    """force_login (django-axes) and hand the session cookie to the browser."""
    client = Client()
    client.force_login(user)
    page.context.clear_cookies()
    page.context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "url": live_server.url,
            }
        ]
    )


def click_and_settle(page, selector, swapped):
    """Clicks ``selector`` and returns once htmx has settled the element ``swapped`` that the
    answer swaps in: htmx wires the hx-* attributes of new content during the settle (20 ms
    after the swap), so a button of the new content clicked before it would post as a plain
    form. The listener is in place before the click, so the event cannot be missed; a plain
    form post instead of htmx reloads the page and the wait fails."""
    page.evaluate(
        """swapped => {
            window.settledSwap = false;
            document.body.addEventListener("htmx:afterSettle", function listener(event) {
                if (event.target.matches(swapped)) {
                    document.body.removeEventListener("htmx:afterSettle", listener);
                    window.settledSwap = true;
                }
            });
        }""",
        swapped,
    )
    page.click(selector)
    page.wait_for_function("() => window.settledSwap === true")


def record_reached_visit(page, live_server, visit_pk, fill):
    page.goto(f"{live_server.url}/visits/{visit_pk}/")
    assert page.locator("#record-form").count() == 0  # the form opens once reached
    page.select_option('select[name="a-outcome"]', "reached")
    # The answer to the reached attempt brings the record form with it (out of band).
    click_and_settle(page, "#attempt-submit", "#record")
    page.locator('#attempts tr[data-outcome="reached"]').wait_for()
    page.locator("#record-form").wait_for()
    page.check('input[name="r-reminder_anti_fraud"]')
    page.check('input[name="r-reminder_safe_operation"]')
    fill(page)
    page.click("#record-submit")
    try:
        page.wait_for_url(f"{live_server.url}/visits/")
    except Exception:  # say what the page showed instead of the worklist
        print("RECORD PAGE:", page.url, page.inner_text("main")[:3000])
        raise


def handler_accepts_and_resolves(page, live_server, handler, escalation, result):
    login(page, live_server, handler)
    page.goto(f"{live_server.url}/escalations/")
    row = f"#esc-row-{escalation.pk}"
    click_and_settle(page, f"{row} button:has-text('受理')", row)
    page.wait_for_selector(f'{row}[data-status="accepted"]')
    page.fill(f'{row} input[name="resolve-result"]', result)
    click_and_settle(page, f"{row} button:has-text('处理完毕')", row)
    page.wait_for_selector(f'{row}[data-status="resolved"]')


def agent_replies(page, live_server, agent, escalation, note):
    login(page, live_server, agent)
    page.goto(f"{live_server.url}/escalations/")  # agents land on "awaiting reply"
    page.click(f"#esc-row-{escalation.pk} a:has-text('回复客户')")
    page.fill('textarea[name="reply-note"]', note)
    page.click("#form-reply button[type=submit]")
    page.wait_for_selector('#escalation-status[data-status="replied"]')


def follow_up_from_worklist(page, live_server, escalation):
    escalation.refresh_from_db()
    follow_up = escalation.follow_up_visit
    assert follow_up.kind == VisitKind.FOLLOW_UP
    page.goto(f"{live_server.url}/visits/")
    row = page.locator(f'#worklist tr[data-visit="{follow_up.pk}"]')
    assert "跟踪回访" in row.inner_text()
    return follow_up.pk


def test_it_goes_round_until_the_customer_is_satisfied(
    calendar_2025, beijing_morning, live_server, pw_page, agent, handler, account, security_dept
):
    page = pw_page
    visit = VisitFactory(account=account, status="assigned", assigned_to=agent)

    # 1. The agent escalates a problem from the call screen's record form.
    login(page, live_server, agent)

    def escalate(p):
        p.check('input[name="r-handling"][value="escalated"]')
        p.fill('textarea[name="r-problem"]', "客户反映网银登录提示证书失效")
        p.select_option('select[name="r-escalate_department"]', str(security_dept.pk))
        p.select_option('select[name="r-escalate_urgency"]', "high")

    record_reached_visit(page, live_server, visit.pk, escalate)
    escalation = Escalation.objects.get(visit=visit)
    assert escalation.status == EscalationStatus.OPENED
    assert escalation.deadline_at == timezone.make_aware(dt.datetime(2025, 9, 11, 17, 0))

    # 2. The handler accepts and resolves in place.
    handler_accepts_and_resolves(page, live_server, handler, escalation, "已为客户更新证书")

    # 3. The agent replies; the follow-up visit appears in the worklist.
    agent_replies(page, live_server, agent, escalation, "已电话告知客户更新证书的方法")
    follow_up_pk = follow_up_from_worklist(page, live_server, escalation)

    # 4. The customer is not satisfied: the escalation reopens with the customer's words.
    def unsatisfied(p):
        p.check('input[name="r-resolution_satisfied"][value="no"]')
        p.fill('textarea[name="r-resolution_words"]', "更新后还是无法登录")

    record_reached_visit(page, live_server, follow_up_pk, unsatisfied)
    escalation.refresh_from_db()
    assert (escalation.status, escalation.round) == (EscalationStatus.REOPENED, 2)
    login(page, live_server, handler)
    page.goto(f"{live_server.url}/escalations/{escalation.pk}/")
    assert "更新后还是无法登录" in page.inner_text(f"#timeline-{escalation.pk}")

    # 5. Second round, and this time the customer is satisfied.
    handler_accepts_and_resolves(page, live_server, handler, escalation, "已重置U盾并远程协助登录")
    agent_replies(page, live_server, agent, escalation, "已告知客户U盾已重置")
    second_follow_up = follow_up_from_worklist(page, live_server, escalation)
    assert second_follow_up != follow_up_pk

    record_reached_visit(
        page,
        live_server,
        second_follow_up,
        lambda p: p.check('input[name="r-resolution_satisfied"][value="yes"]'),
    )
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.CLOSED
    page.goto(f"{live_server.url}/escalations/{escalation.pk}/")
    assert page.get_attribute("#escalation-status", "data-status") == "closed"
    steps = page.locator(f"#timeline-{escalation.pk} li.step").evaluate_all(
        "items => items.map(i => i.dataset.action)"
    )
    assert steps == [
        "open", "accept", "resolve", "reply", "reopen", "accept", "resolve", "reply", "close",
    ]  # fmt: skip
    assert Visit.objects.filter(kind=VisitKind.FOLLOW_UP, status="completed").count() == 2
