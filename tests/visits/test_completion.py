"""One visit_complete for every channel: a follow-up visit completed by the customer's SMS
reply "1" or by the online questionnaire settles its escalation exactly as a phone record does."""

import pytest
import time_machine

from core.models import AuditLogEntry
from escalations.models import Escalation, EscalationStatus
from escalations.services import (
    escalation_accept,
    escalation_open,
    escalation_reply,
    escalation_resolve,
)
from tests.factories import AccountFactory, CustomerFactory
from visits.models import Visit, VisitKind, VisitRecord
from workspace.channels import sms
from workspace.channels.questionnaire import invite_create, questionnaire_submit
from workspace.models import SmsMessage
from workspace.services import attempt_log, record_submit

from .workspace_helpers import CALL_TIME, open_visit

pytestmark = [pytest.mark.django_db, pytest.mark.spec("7.follow-up")]

SATISFIED = {"info_correct": "yes", "txn_recognised": "yes", "channel_ok": "yes",
             "satisfaction": 5, "comment": ""}  # fmt: skip
COMPLAINT = "网银还是登录不了"


@pytest.fixture(autouse=True)
def _at_call_time():
    with time_machine.travel(CALL_TIME, tick=False):
        yield


@pytest.fixture
def replied(branch, agent, handler, security_dept):
    """An escalation answered to the customer, with its follow-up visit (one account each)."""

    def make() -> Escalation:
        account = AccountFactory(customer=CustomerFactory(branch=branch))
        visit = open_visit(branch, agent=agent, account=account, status="in_progress")
        escalation = escalation_open(
            visit=visit,
            department=security_dept,
            urgency="normal",
            description="客户称网银无法登录",
            by=agent,
        )
        escalation = escalation_accept(escalation=escalation, by=handler)
        escalation = escalation_resolve(escalation=escalation, by=handler, result="已重置网银密码")
        escalation = escalation_reply(escalation=escalation, by=agent, note="已告知客户处理结果")
        assert escalation.follow_up_visit.kind == VisitKind.FOLLOW_UP
        return escalation

    return make


def by_phone(escalation, agent, *, satisfied=True, words=""):
    visit = escalation.follow_up_visit
    attempt_log(visit=visit, agent=agent, outcome="reached")
    data = {
        "reminder_anti_fraud": True,
        "reminder_safe_operation": True,
        "resolution_satisfied": satisfied,
        "resolution_words": words,
    }
    record_submit(visit=visit, agent=agent, data=data, transaction_checks={})


def by_sms(escalation, agent):
    visit = escalation.follow_up_visit
    message = SmsMessage.objects.create(
        customer=visit.account.customer,
        visit=visit,
        body="【示范银行】处理结果满意请回复1",
        idempotency_key=f"test:{visit.pk}",
        status="sent",
        gateway_message_id=f"gw-{visit.pk}",
    )
    assert sms.sms_reply_apply(message=message, text="1") == sms.REPLY_CORRECT


def by_questionnaire(escalation, agent, answers=SATISFIED):
    invite, _url = invite_create(escalation.follow_up_visit)
    questionnaire_submit(invite=invite, answers=answers)


def settled(escalation) -> dict:
    """What completing the follow-up did, channel aside."""
    escalation = Escalation.objects.get(pk=escalation.pk)
    visit = Visit.objects.get(pk=escalation.follow_up_visit_id)
    last = escalation.steps.order_by("pk").last()
    return {
        "escalation": escalation.status,
        "round": escalation.round,
        "closed": escalation.closed_at is not None,
        "steps": list(escalation.steps.order_by("pk").values_list("action", flat=True)),
        "last_step": (last.from_status, last.to_status),
        "visit": visit.status,
        "completed_at": visit.completed_at,
        "completions_audited": AuditLogEntry.objects.filter(
            action="visit.complete", object_id=str(visit.pk)
        ).count(),
    }


@pytest.mark.parametrize("complete", [by_sms, by_questionnaire], ids=["sms", "questionnaire"])
def test_a_satisfied_follow_up_closes_its_escalation_as_a_phone_record_does(
    complete, replied, agent
):
    by_phone(phone := replied(), agent)
    complete(other := replied(), agent)
    expected = settled(phone)
    assert expected["escalation"] == EscalationStatus.CLOSED and expected["closed"]
    assert expected["completions_audited"] == 1
    assert settled(other) == expected


def test_an_unsatisfied_questionnaire_reopens_the_escalation_as_a_phone_record_does(replied, agent):
    by_phone(phone := replied(), agent, satisfied=False, words=COMPLAINT)
    unhappy = {**SATISFIED, "channel_ok": "no", "comment": COMPLAINT}
    by_questionnaire(online := replied(), agent, answers=unhappy)
    expected = settled(phone)
    assert expected["escalation"] == EscalationStatus.REOPENED and expected["round"] == 2
    assert settled(online) == expected
    for escalation in (phone, online):
        assert escalation.steps.order_by("pk").last().note == COMPLAINT
    record = VisitRecord.objects.get(visit=online.follow_up_visit)
    assert (record.channel, record.resolution_satisfied) == ("online", False)


def test_an_unsatisfied_questionnaire_without_words_reopens_with_the_answers(replied, agent):
    by_questionnaire(online := replied(), agent, answers={**SATISFIED, "satisfaction": 1})
    online.refresh_from_db()
    assert online.status == EscalationStatus.REOPENED
    assert "满意度" in online.steps.order_by("pk").last().note


def test_the_sms_record_of_a_follow_up_says_the_customer_is_satisfied(replied, agent):
    by_sms(escalation := replied(), agent)
    record = VisitRecord.objects.get(visit=escalation.follow_up_visit)
    assert (record.channel, record.resolution_satisfied) == ("sms", True)
    entry = AuditLogEntry.objects.get(action="visit.complete")
    assert entry.after["channel"] == "sms" and entry.after["record"] == record.pk


def test_a_visit_of_another_kind_settles_no_escalation(replied, agent, account):
    escalation = replied()
    visit = open_visit(account.branch, account=account)
    invite, _url = invite_create(visit)
    questionnaire_submit(invite=invite, answers=SATISFIED)
    assert Visit.objects.get(pk=visit.pk).status == "completed"
    assert Escalation.objects.get(pk=escalation.pk).status == EscalationStatus.REPLIED
    assert VisitRecord.objects.get(visit=visit).resolution_satisfied is None
