"""Query budgets of the agent workspace and the public questionnaire: each page costs the same
number of queries whatever the number of rows it shows (measured with a few rows, then with
many)."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from accounts.models import ConsentEntry, Department
from escalations.models import Escalation, EscalationStep, Urgency
from tests.factories import AccountEventFactory, AccountFactory, CustomerFactory
from tests.visits.workspace_helpers import CALL_TIME, ensure_seed_data, open_visit
from visits.models import ContactAttempt, Script, VisitPolicy, VisitRecord, VisitTrigger
from workspace.channels.questionnaire import invite_create
from workspace.models import QuestionnaireQuestion, SmsMessage

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _seed_data(db):
    ensure_seed_data()


@pytest.fixture(autouse=True)
def _at_call_time():
    with time_machine.travel(CALL_TIME, tick=False):
        yield


EARLIER = CALL_TIME - dt.timedelta(hours=1)


def _history(visit, agent, count: int) -> None:
    """``count`` more of everything the call screen lists: failed attempts, flagged
    transactions, consent entries, earlier (completed) visits of the account, escalations
    with a step, SMS messages."""
    account = visit.account
    department = Department.objects.order_by("pk").first()
    for _ in range(count):
        escalation = Escalation.objects.create(
            visit=visit, account=account, department=department, urgency=Urgency.NORMAL,
            description="客户反映问题", deadline_at=CALL_TIME + dt.timedelta(days=1),
            opened_by=agent,
        )  # fmt: skip
        EscalationStep.objects.create(
            escalation=escalation, action="create", to_status="pending", by=agent
        )
        SmsMessage.objects.create(
            customer=account.customer, visit=visit, body="回访短信",
            idempotency_key=f"budget-{escalation.pk}",
        )  # fmt: skip
        ContactAttempt.objects.create(
            visit=visit, channel="phone", agent=agent, outcome="no_answer", started_at=EARLIER
        )
        event = AccountEventFactory(
            account=account, amount="80000.00", currency="CNY", flagged=True
        )
        VisitTrigger.objects.create(visit=visit, event=event)
        ConsentEntry.objects.create(
            customer=account.customer, kind="contact", granted=True, source="counter"
        )
        old = open_visit(account.branch, account=account, status="completed")
        VisitRecord.objects.create(visit=old, channel="sms", feedback="上次回访正常")


def test_the_call_screen_has_a_fixed_query_budget(
    client, agent, account, django_assert_num_queries
):
    visit = open_visit(account.branch, agent=agent, account=account, kind="special_event")
    # Reached, after every failed attempt: the page shows the record form too (with a question
    # per flagged transaction).
    ContactAttempt.objects.create(visit=visit, channel="phone", agent=agent, outcome="reached")
    _history(visit, agent, 2)
    url = reverse("workspace:call_screen", args=[visit.pk])
    client.force_login(agent)
    client.get(url)  # warm the content-type cache that guardian reads once per process
    with django_assert_num_queries(CALL_SCREEN_QUERIES):
        assert client.get(url).status_code == 200
    _history(visit, agent, 12)
    with django_assert_num_queries(CALL_SCREEN_QUERIES):
        response = client.get(url)
    assert len(response.context["flagged"]) == 14
    assert len(list(response.context["attempts"])) == 15
    assert len(response.context["record_form"].transaction_fields()) == 14
    assert len(list(response.context["previous"])) == 10
    assert len(list(response.context["steps"])) == 14
    assert len(list(response.context["sms_messages"])) == 14
    assert len(list(response.context["consents"])) == 14


# An open visit whose customer was reached, with a record form to fill: 1 session, 2 user with
# their staff profile (role); 3 the branch and department scope (one statement, once per
# request); 4 the visit within the agent's scope, with its account, customer and branch, and
# whether it has triggering events, a record, escalations, SMS messages and consent entries
# (each is read below only when there is one: no record here, the form is shown); 5 the
# flagged transactions; 6 the agent's draft of the record; 7 the script of the visit's kind
# (the policy's, when the visit has one: see below); 8 unread notifications (menu); 9 the
# last 20 consent entries with who recorded them; 10 the attempts with their agent (whether
# the customer was reached is read from them); 11 the departments of the escalation form;
# 12 the escalation steps of the visit; 13 its SMS messages; 14 the last 10 earlier visits
# with their record; 15-17 savepoint, session refresh, release (SESSION_SAVE_EVERY_REQUEST).
CALL_SCREEN_QUERIES = 17


def _reached_screen(client, agent, visit) -> str:
    """The call screen of ``visit`` once its customer was reached, with the record form to
    fill: ``agent`` signed in and the page requested once (caches warm)."""
    ContactAttempt.objects.create(visit=visit, channel="phone", agent=agent, outcome="reached")
    url = reverse("workspace:call_screen", args=[visit.pk])
    client.force_login(agent)
    client.get(url)
    return url


def test_a_periodic_visit_s_call_screen_reads_no_transactions(
    client, agent, account, django_assert_num_queries
):
    # Only the event rules link transactions to a visit: a periodic visit has none to list,
    # and its call screen does not look for them.
    visit = open_visit(account.branch, agent=agent, account=account, kind="periodic")
    url = _reached_screen(client, agent, visit)
    with django_assert_num_queries(CALL_SCREEN_QUERIES - NOTHING_TO_LIST):
        response = client.get(url)
    assert response.status_code == 200
    assert response.context["flagged"] == []
    assert response.context["record_form"].transaction_fields() == []


# What the call screen of a visit with no trigger, escalation, SMS or consent entry saves.
NOTHING_TO_LIST = 4


def test_a_visit_with_nothing_to_list_reads_no_lists(
    client, agent, account, django_assert_num_queries
):
    visit = open_visit(account.branch, agent=agent, account=account, kind="special_event")
    url = _reached_screen(client, agent, visit)
    with django_assert_num_queries(CALL_SCREEN_QUERIES - NOTHING_TO_LIST):
        response = client.get(url)
    context = response.context
    assert context["flagged"] == context["steps"] == context["sms_messages"] == []
    assert context["consents"] == []
    # One of each is enough for its list to be read and shown.
    _history(visit, agent, 1)
    with django_assert_num_queries(CALL_SCREEN_QUERIES):
        response = client.get(url)
    assert len(response.context["flagged"]) == len(list(response.context["steps"])) == 1
    assert len(list(response.context["sms_messages"])) == 1
    assert len(list(response.context["consents"])) == 1


def test_a_visit_s_policy_comes_with_its_script_in_one_query(
    client, agent, account, django_assert_num_queries
):
    # Read by primary key once the visit is loaded (not joined to it): one query more than a
    # visit without a policy, and one fewer for the script, which comes with the policy
    # instead of being looked up by kind and language. A periodic visit reads no transactions.
    script = Script.objects.create(
        kind="periodic", title="定期回访话术", body="您好，我是{bank_name}的{agent_name}。"
    )
    policy = VisitPolicy.objects.create(
        kind="periodic", due_unit="cycle_months", due_amount=12, script=script, version=3
    )
    visit = open_visit(account.branch, agent=agent, account=account, kind="periodic", policy=policy)
    url = _reached_screen(client, agent, visit)
    with django_assert_num_queries(CALL_SCREEN_QUERIES - NOTHING_TO_LIST):
        response = client.get(url)
    assert response.context["script"] == script
    assert response.context["visit"].policy == policy
    assert "定期回访话术 v1" in response.content.decode()


def test_the_teller_page_has_a_fixed_query_budget(
    client, teller, branch, django_assert_num_queries
):
    url = reverse("workspace:teller")
    client.force_login(teller)
    client.get(url)
    with django_assert_num_queries(TELLER_QUERIES):
        assert client.get(url).status_code == 200
    for _ in range(10):  # the form looks an account up by number: none is listed
        AccountFactory(customer=CustomerFactory(branch=branch))
    with django_assert_num_queries(TELLER_QUERIES):
        assert client.get(url).status_code == 200


# 1 session, 2 user with their staff profile (role); 3 the branch and department scope (one statement, once per request); 4 unread notifications (menu); 5-7 savepoint,
# session refresh, release.
TELLER_QUERIES = 7


def test_the_questionnaire_page_has_a_fixed_query_budget(
    client, account, django_assert_num_queries
):
    visit = open_visit(account.branch, account=account)
    _invite, url = invite_create(visit)
    with django_assert_num_queries(QUESTIONNAIRE_QUERIES):
        assert client.get(url).status_code == 200
    QuestionnaireQuestion.objects.bulk_create(
        QuestionnaireQuestion(
            kind="periodic", order=10 + n, code=f"extra_{n}", text=f"问题 {n}", answer_type="yes_no"
        )
        for n in range(10)
    )
    with django_assert_num_queries(QUESTIONNAIRE_QUERIES):
        response = client.get(url)
    assert len(response.context["form"].fields) == 15


# No login, no session: 1 the invite of the token with its visit, account, customer and
# branch; 2 the active questions of the visit's kind.
QUESTIONNAIRE_QUERIES = 2
