"""The call screen: masked data and the logged reveal, the filled script, the contact-rule
state, the consent ledger, flagged transactions, previous visits; contact attempts."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from accounts.models import ConsentEntry
from core.models import AuditLogEntry
from tests.factories import AccountEventFactory
from visits.models import ContactAttempt, Script, VisitRecord, VisitTrigger
from workspace.services import WorkspaceError, attempt_log

from .workspace_helpers import CALL_TIME, ensure_seed_data, open_visit

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _seed_data(db):
    ensure_seed_data()


def _screen(client, visit):
    return client.get(reverse("workspace:call_screen", args=[visit.pk]))


@pytest.mark.spec("6.pii")
@time_machine.travel(CALL_TIME, tick=False)
def test_it_masks_personal_data(client, agent, account):
    visit = open_visit(account.branch, agent=agent, account=account)
    client.force_login(agent)
    html = _screen(client, visit).content.decode()
    assert "138****8000" in html and "110101********4514" in html
    assert "13800138000" not in html and "110101199003074514" not in html
    assert account.number not in html


@pytest.mark.spec("6.pii")
@time_machine.travel(CALL_TIME, tick=False)
def test_it_reveals_personal_data_to_allowed_roles_and_logs_each_reveal(
    client, agent, handler, account
):
    visit = open_visit(account.branch, agent=agent, account=account)
    client.force_login(agent)
    response = client.post(reverse("workspace:reveal", args=[visit.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "13800138000" in html and "110101199003074514" in html
    entry = AuditLogEntry.objects.get(action="pii.reveal")
    assert entry.actor == agent and entry.object_id == str(account.customer.pk)
    assert "13800138000" not in str(entry.after) and "110101199003074514" not in str(entry.after)
    client.force_login(handler)  # a handler may not reveal, and does not see the visit at all
    assert client.post(reverse("workspace:reveal", args=[visit.pk])).status_code in (403, 404)
    assert AuditLogEntry.objects.filter(action="pii.reveal").count() == 1


@pytest.mark.spec("6.pii")
def test_it_hides_other_branches_visits(client, other_agent, account):
    visit = open_visit(account.branch, account=account)
    client.force_login(other_agent)
    assert _screen(client, visit).status_code == 404
    assert client.post(reverse("workspace:reveal", args=[visit.pk])).status_code == 404
    assert client.post(reverse("workspace:attempt", args=[visit.pk])).status_code == 404


@pytest.mark.spec("2.script", clause=("五.1", "七.2"))
@time_machine.travel(CALL_TIME, tick=False)
def test_it_fills_the_scripts_placeholders(client, agent, account, settings):
    settings.CALLBACK = {**settings.CALLBACK, "BANK_NAME": "测试银行"}
    Script.objects.create(
        kind="periodic", title="定期", version=99,
        body="您好，我是{bank_name}的{agent_name}。请问是{customer_name}吗？手机{masked_mobile}，"
        "账户{masked_account}，地址{address}，{branch_name}。{unknown}",
    )  # fmt: skip
    visit = open_visit(account.branch, agent=agent, account=account, kind="periodic")
    client.force_login(agent)
    text = _screen(client, visit).context["script_text"]
    assert text == (
        "您好，我是测试银行的李娜。请问是张伟吗？手机138****8000，账户"
        f"{account.masked_number}，地址北京市东城区****，北京分行营业部。{{unknown}}"
    )


@pytest.mark.spec("3.contact-rules")
def test_it_shows_the_contact_rule_state(client, agent, account):
    customer = account.customer
    customer.do_not_contact = True
    customer.save()
    ConsentEntry.objects.create(customer=customer, kind="contact", granted=False, source="sms")
    visit = open_visit(account.branch, agent=agent, account=account)
    with time_machine.travel(CALL_TIME.replace(hour=21), tick=False):
        client.force_login(agent)  # sessions expire after 15 idle minutes: log in "then"
        response = _screen(client, visit)
    rules = response.context["rules"]
    assert rules == {**rules, "calling_hours": False, "do_not_contact": True,
                     "marketing_consent": False, "security_critical": False}  # fmt: skip
    html = response.content.decode()
    assert "不在呼叫时段内" in html and "勿扰" in html and "未同意营销" in html
    assert list(response.context["consents"])[0].source == "sms"
    with time_machine.travel(CALL_TIME, tick=False):
        client.force_login(agent)
        assert _screen(client, visit).context["rules"]["calling_hours"] is True


@pytest.mark.spec("2.transactions", clause="四.2")
@time_machine.travel(CALL_TIME, tick=False)
def test_it_lists_the_flagged_transactions_and_previous_visits(client, agent, account):
    visit = open_visit(account.branch, agent=agent, account=account, kind="special_event")
    attempt_log(visit=visit, agent=agent, outcome="reached")  # the record form asks about them
    big = AccountEventFactory(account=account, amount="80000.00", currency="CNY", flagged=True)
    opened = AccountEventFactory(account=account, event_type="account_opened")
    VisitTrigger.objects.create(visit=visit, event=big)
    VisitTrigger.objects.create(visit=visit, event=opened)
    old = open_visit(account.branch, account=account, kind="periodic", status="completed")
    VisitRecord.objects.create(visit=old, channel="sms", feedback="上次回访正常")
    client.force_login(agent)
    response = _screen(client, visit)
    assert response.context["flagged"] == [big]
    assert [v.pk for v in response.context["previous"]] == [old.pk]
    html = response.content.decode()
    assert "80000.00" in html and "上次回访正常" in html
    assert f"r-txn_{big.pk}" in html


@pytest.mark.spec("2.attempts", clause=("五.1", "八.1"))
@time_machine.travel(CALL_TIME, tick=False)
def test_it_logs_attempts_and_moves_the_visit_in_progress(client, agent, account):
    visit = open_visit(account.branch, agent=agent, account=account)
    client.force_login(agent)
    url = reverse("workspace:attempt", args=[visit.pk])
    screen = client.get(reverse("workspace:call_screen", args=[visit.pk])).content.decode()
    assert 'id="record-hint"' in screen and 'id="record-form"' not in screen  # not reached yet
    response = client.post(url, {"a-outcome": "no_answer"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'data-outcome="no_answer"' in response.content.decode()
    assert 'id="record-form"' not in response.content.decode()
    visit.refresh_from_db()
    assert (visit.status, visit.phone_attempts) == ("in_progress", 1)
    response = client.post(url, {"a-outcome": "callback"}, HTTP_HX_REQUEST="true")
    assert "预约回拨需要填写时间" in response.content.decode()
    later = (CALL_TIME + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    client.post(url, {"a-outcome": "callback", "a-callback_at": later}, HTTP_HX_REQUEST="true")
    visit.refresh_from_db()
    assert visit.callback_at == CALL_TIME + dt.timedelta(hours=3)
    response = client.post(url, {"a-outcome": "reached"}, HTTP_HX_REQUEST="true")
    # The answer carries the reached attempt and the record form (the attempt form selects
    # #attempts and, out of band, #record from it): no reload, no second request.
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-outcome="reached"' in html and 'id="record-form"' in html
    assert 'id="record-hint"' not in html
    assert 'hx-select="#attempts" hx-select-oob="#record"' in html
    visit.refresh_from_db()
    assert visit.callback_at is None and visit.phone_attempts == 3
    assert list(visit.attempts.values_list("outcome", flat=True)) == [
        "no_answer",
        "callback",
        "reached",
    ]


@pytest.mark.spec("3.contact-rules")
def test_it_refuses_calls_outside_calling_hours_and_to_do_not_contact(agent, account):
    visit = open_visit(account.branch, agent=agent, account=account)
    with time_machine.travel(CALL_TIME.replace(hour=20, minute=30), tick=False):
        with pytest.raises(WorkspaceError, match="呼叫时段"):
            attempt_log(visit=visit, agent=agent, outcome="no_answer")
    account.customer.do_not_contact = True
    account.customer.save()
    with time_machine.travel(CALL_TIME, tick=False):
        with pytest.raises(WorkspaceError, match="勿扰"):
            attempt_log(visit=visit, agent=agent, outcome="no_answer")
        visit.suspected_fraud = True  # security-critical: allowed despite do-not-contact
        visit.save()
        attempt_log(visit=visit, agent=agent, outcome="no_answer")
    assert ContactAttempt.objects.filter(visit=visit).count() == 1


@pytest.mark.spec("2.attempts")
@time_machine.travel(CALL_TIME, tick=False)
def test_it_refuses_attempts_on_another_agents_visit(client, agent, account):
    from accounts.models import Role
    from accounts.services import staff_create
    from tests.fixtures import PASSWORD

    colleague = staff_create(
        username="colleague", password=PASSWORD, role=Role.AGENT, branches=[account.branch]
    )
    visit = open_visit(account.branch, agent=colleague, account=account)
    client.force_login(agent)
    response = client.post(
        reverse("workspace:attempt", args=[visit.pk]), {"a-outcome": "busy"}, HTTP_HX_REQUEST="true"
    )
    assert "已分配给其他回访人员" in response.content.decode()
    assert not ContactAttempt.objects.filter(visit=visit).exists()
