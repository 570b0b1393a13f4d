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


# --- Labels: no internal code on a page --------------------------------------------------------


def internal_codes() -> set[str]:
    """Every stored code a page could leak: choice codes, booleans, vocabulary keys."""
    from django.apps import apps

    from core.presentation import VOCABULARIES

    codes = {"True", "False", "None"}
    for label in ("visits.Visit", "visits.VisitRecord", "visits.ContactAttempt",
                  "escalations.Escalation", "accounts.Account", "accounts.Customer"):  # fmt: skip
        for field in apps.get_model(label)._meta.concrete_fields:
            codes.update(str(value) for value, _ in field.flatchoices or ())
    for vocabulary in VOCABULARIES.values():
        codes.update(vocabulary)
    return {code for code in codes if code.isascii() and not code.isdigit() and len(code) > 1}


def leaked_codes(text: str) -> list[str]:
    import re

    words = set(re.findall(r"[A-Za-z_]+(?:\.[a-z_]+)?", text))
    return sorted(words & internal_codes())


def login_as(page, live_server, user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def escalated_record(agent, branch, security_dept):
    from workspace.forms import RecordForm
    from workspace.services import record_submit

    visit = reached_visit(agent, branch)
    form = RecordForm(
        {
            "r-mobile_status": "changed", "r-mobile_new": "13912345678",
            "r-email_status": "not_asked", "r-landline_status": "not_asked",
            "r-address_status": "confirmed", "r-online_banking": "uses",
            "r-mobile_banking": "not_used", "r-sms_alerts": "unknown",
            "r-usage_channels": ["atm", "mobile"], "r-id_expiry_checked": "on",
            "r-id_expiry_reported": "2030-05-01", "r-transactions_reviewed": "on",
            "r-reminder_anti_fraud": "on", "r-reminder_safe_operation": "on",
            "r-feedback": "客户反映手机银行转账失败", "r-satisfaction": "3",
            "r-handling": "escalated", "r-problem": "手机银行转账失败",
            "r-escalate_department": str(security_dept.pk), "r-escalate_urgency": "urgent",
        },
        visit=visit, prefix="r",
    )  # fmt: skip
    assert form.is_valid(), form.errors
    data, checks = form.service_data()
    record = record_submit(visit=visit, agent=agent, data=data, transaction_checks=checks)
    return visit, record


def test_a_completed_visit_and_its_record_show_no_internal_code(
    live_server, pw_page, agent, branch, security_dept, morning
):
    page = pw_page
    visit, record = escalated_record(agent, branch, security_dept)
    login_as(page, live_server, agent)
    page.goto(f"{live_server.url}/visits/{visit.pk}/")
    text = page.locator("main").inner_text()
    assert "转办" in text and "手机号码：" in text and "自助设备、手机银行" in text
    assert leaked_codes(text) == []
    page.click("#record-link")
    page.wait_for_url(f"**/records/{record.pk}/")
    text = page.locator("main").inner_text()
    assert "有变更" in text and "2030-05-01" in text
    assert leaked_codes(text) == []


def test_a_handler_sees_the_masked_customer_and_the_source_record_read_only(
    live_server, pw_page, agent, branch, security_dept, handler, morning
):
    from escalations.models import Escalation

    page = pw_page
    visit, record = escalated_record(agent, branch, security_dept)
    escalation = Escalation.objects.get(visit=visit)
    customer = visit.account.customer
    login_as(page, live_server, handler)
    page.goto(f"{live_server.url}/escalations/{escalation.pk}/")
    shown = page.locator("#escalation-customer").inner_text()
    assert shown != customer.name and shown.startswith(customer.name[0]) and "*" in shown
    assert "*" in page.locator("#escalation-account").inner_text()
    assert visit.account.number not in page.content()
    source = page.locator("#source-record")
    assert "手机银行转账失败" in source.inner_text()
    assert source.locator("form, input, textarea, button").count() == 0
    assert leaked_codes(page.locator("main").inner_text()) == []


def test_a_refused_record_shows_a_summary_in_view_that_leads_to_each_field(
    live_server, pw_page, agent, branch, morning
):
    page = pw_page
    visit = reached_visit(agent, branch)
    sign_in(page, live_server, agent)
    page.wait_for_url("**/visits/")
    page.goto(f"{live_server.url}/visits/{visit.pk}/")
    page.check("input[name='r-mobile_status'][value='changed']")
    page.fill("input[name='r-mobile_new']", "abc123")
    page.check("input[name='r-email_status'][value='changed']")
    page.fill("input[name='r-email_new']", "not-an-email")
    page.check("input[name='r-reminder_anti_fraud']")
    page.check("input[name='r-reminder_safe_operation']")
    page.click("#record-submit")
    summary = page.locator("#error-summary")
    summary.wait_for()
    page.wait_for_function(
        "() => window.scrollY > 300"
    )  # the page opens at the summary, not the top
    box = summary.bounding_box()
    assert 0 <= box["y"] < page.viewport_size["height"]
    links = summary.locator("a")
    assert links.count() == 2
    assert "手机" in links.nth(0).inner_text() and "11 位" in links.nth(0).inner_text()
    assert page.locator("#field-r-mobile_new .errorlist").inner_text().startswith("请输入 11 位")
    assert "电子邮箱" in page.locator("#field-r-email_new .errorlist").inner_text()
    links.nth(1).click()
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.name === 'r-email_new'"
    )
    assert page.locator("input[name='r-mobile_new']").input_value() == "abc123"
    assert not VisitRecord.objects.filter(visit=visit).exists()


# --- Error pages --------------------------------------------------------------------------------


def assert_error_page(page, status: int, words: str):
    shown = page.locator("#error-page")
    assert shown.get_attribute("data-status") == str(status)
    assert words in shown.inner_text()
    assert page.locator("header.topbar .brand").inner_text() == "回访管理系统"
    assert page.locator("#error-home").is_visible()
    assert "Forbidden" not in page.content() and "Not Found" not in page.content()


def test_the_error_pages_are_in_the_products_layout_with_a_way_back(
    live_server, pw_page, agent, settings, morning
):
    page = pw_page
    sign_in(page, live_server, agent)
    page.wait_for_url("**/visits/")

    response = page.goto(f"{live_server.url}/supervision/")
    assert response.status == 403
    assert_error_page(page, 403, "没有查看此页面")
    page.click("#error-home")
    page.wait_for_url("**/visits/")

    response = page.goto(f"{live_server.url}/visits/999999/")
    assert response.status == 404
    assert_error_page(page, 404, "页面不存在")

    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    answer = page.request.fetch(
        f"{live_server.url}/visits/next/", method="PUT", headers={"X-CSRFToken": token,
                                                                  "Referer": live_server.url}
    )  # fmt: skip
    assert answer.status == 405
    page.set_content(answer.text())
    assert "只接受表单提交" in page.locator("#error-page").inner_text()


def test_the_lockout_page_says_how_many_minutes_remain(live_server, pw_page, agent, settings):
    settings.AXES_ENABLED = True
    page = pw_page
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", agent.username)
        page.fill("#id_password", "not-the-password")
        page.click("button[type=submit]")
        page.wait_for_load_state()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", agent.username)
    page.fill("#id_password", PASSWORD)
    with page.expect_response("**/login/") as answer:
        page.click("button[type=submit]")
    assert answer.value.status == 429
    assert_error_page(page, 429, "暂时不能登录")
    remaining = page.locator("#lockout-remaining").inner_text()
    assert remaining == f"请在 {settings.AXES_COOLOFF_TIME * 60:.0f} 分钟后再试。"


def test_a_supervisor_finds_a_record_by_account_number(
    live_server, pw_page, agent, supervisor, branch, security_dept, morning
):
    page = pw_page
    visit, record = escalated_record(agent, branch, security_dept)
    reached_visit(agent, branch)  # another account, not to be found
    login_as(page, live_server, supervisor)
    page.goto(f"{live_server.url}/supervision/")
    page.click("#nav-records")
    page.wait_for_url("**/records/")
    page.fill("#id_account_number", visit.account.number)
    page.click("#record-search-submit")
    page.wait_for_url("**/records/?**")
    rows = page.locator("#record-results tbody tr[data-record]")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-record") == str(record.pk)
    assert "是" in rows.first.inner_text()  # escalated
    rows.first.locator(f"a[href='/records/{record.pk}/']").click()
    page.wait_for_url(f"**/records/{record.pk}/")


# --- Phone width --------------------------------------------------------------------------------


def test_the_worklist_fits_a_390_px_phone_with_a_menu_toggle(
    live_server, pw_browser, agent, branch, morning
):
    context = pw_browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 390, "height": 844}
    )
    page = context.new_page()
    try:
        for n in range(6):
            VisitFactory(
                account=AccountFactory(customer=CustomerFactory(branch=branch)),
                kind="new_account", assigned_to=agent, assigned_at=MORNING, status="assigned",
                due_at=MORNING + dt.timedelta(hours=n - 2), suspected_fraud=n == 0,
            )  # fmt: skip
        sign_in(page, live_server, agent)
        page.wait_for_url("**/visits/")
        page.locator("#worklist tr[data-visit]").first.wait_for()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        kind = page.locator("#worklist tr[data-visit] td[data-label='类型']").first
        assert kind.bounding_box()["height"] < 60  # 新开户回访 on one line, not one per line
        nav = page.locator("#mainnav")
        assert nav.is_hidden()
        page.click("#nav-toggle")
        nav.wait_for(state="visible")
        assert page.locator("#nav-toggle").get_attribute("aria-expanded") == "true"
        visit = VisitFactory._meta.model.objects.filter(assigned_to=agent).first()
        page.goto(f"{live_server.url}/visits/{visit.pk}/")
        page.locator("#attempts").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    finally:
        context.close()


def test_small_things_the_reveal_button_the_status_badge_the_language_menu_the_icon(
    live_server, pw_page, agent, branch, morning
):
    page = pw_page
    visit = VisitFactory(
        account=AccountFactory(customer=CustomerFactory(branch=branch)),
        assigned_to=agent, assigned_at=MORNING, status="assigned",
    )  # fmt: skip
    sign_in(page, live_server, agent)
    page.wait_for_url("**/visits/")
    page.goto(f"{live_server.url}/visits/{visit.pk}/")
    assert page.locator("#visit-status").inner_text() == "已分配"
    page.select_option("select[name='a-outcome']", "no_answer")
    page.click("#attempt-submit")
    page.locator("#attempts tr[data-outcome='no_answer']").wait_for()
    page.locator("#visit-status", has_text="进行中").wait_for()

    page.click("#reveal")
    page.locator("#pii", has_text="已显示完整信息").wait_for()
    assert page.locator("#reveal").is_hidden()

    options = page.locator("select[name='language'] option").all_inner_texts()
    assert "English" in options and "英语" not in options
    icon = page.request.get(f"{live_server.url}/favicon.ico")
    assert icon.status == 200 and "svg" in icon.headers["content-type"]
