"""The SMS step of the fallback ladder at its edges (SPEC §4 "Precise rules for the edges"): the
wait for a reply starts when the SMS is sent, not when it is queued; a customer who replied
"TD" gets no SMS and goes straight on to the questionnaire, while phone calls go on."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import Customer
from tests.factories import AccountFactory, CustomerFactory, VisitFactory
from visits.models import ContactAttempt, Visit
from workspace.channels.sms import sms_send_due
from workspace.ladder import retry_unreached
from workspace.models import SmsMessage

pytestmark = [pytest.mark.django_db, pytest.mark.spec("3.fallback", clause="五.2")]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=SHANGHAI)


def three_failed_calls(branch, agent, **customer) -> Visit:
    """A visit whose phone calls failed on 2, 4 and 6 March 2026: ready to leave the phone."""
    visit = VisitFactory(
        account=AccountFactory(customer=CustomerFactory(branch=branch, **customer))
    )
    for day in (2, 4, 6):
        ContactAttempt.objects.create(
            visit=visit,
            agent=agent,
            channel="phone",
            outcome="no_answer",
            started_at=datetime.combine(date(2026, 3, day), time(10), tzinfo=SHANGHAI),
        )
    Visit.objects.filter(pk=visit.pk).update(
        status="in_progress", assigned_to=agent, phone_attempts=3
    )
    return visit


def channel(visit) -> str:
    return Visit.objects.get(pk=visit.pk).channel


@pytest.mark.spec("4.sms-clock", clause="五.2")
def test_the_reply_wait_starts_when_the_sms_is_sent_not_when_it_is_queued(branch, agent):
    visit = three_failed_calls(branch, agent)
    # Monday 21:30: the ladder queues the SMS inside the quiet hours (21:00-08:00).
    with time_machine.travel(at(9, 21, 30), tick=False):
        assert retry_unreached()["to_sms"] == 1
        assert sms_send_due() == 0
    message = SmsMessage.objects.get(visit=visit)
    assert message.status == "queued" and message.sent_at is None
    # Two days after queueing, still unsent (the worker was down): the wait has not started.
    with time_machine.travel(at(11, 21, 30), tick=False):
        assert retry_unreached()["to_online"] == 0
        assert sms_send_due() == 0  # quiet hours again: held for the morning
    with time_machine.travel(at(12, 8), tick=False):
        assert sms_send_due() == 1
    message.refresh_from_db()
    assert message.sent_at == at(12, 8)
    # SMS_REPLY_DAYS = 2 from the sending, to the second.
    with time_machine.travel(at(14, 7, 59, 59), tick=False):
        assert retry_unreached()["to_online"] == 0
    assert channel(visit) == "sms"
    with time_machine.travel(at(14, 8), tick=False):
        assert retry_unreached()["to_online"] == 1
    assert channel(visit) == "online"


@pytest.mark.spec("4.sms-opt-out", clause="五.2")
def test_a_customer_who_opted_out_of_sms_goes_from_the_phone_to_the_questionnaire(branch, agent):
    visit = three_failed_calls(branch, agent, sms_opt_out=True)
    with time_machine.travel(at(10, 10), tick=False):
        assert retry_unreached() == {"to_sms": 0, "to_online": 1, "unreachable": 0}
    visit.refresh_from_db()
    assert visit.channel == "online" and visit.invites.count() == 1
    assert not SmsMessage.objects.filter(visit=visit).exists()
    assert not visit.attempts.filter(channel="sms").exists()


@pytest.mark.spec("4.sms-opt-out", clause="五.2")
def test_a_suspected_fraud_visit_still_gets_its_sms_after_an_opt_out(branch, agent):
    visit = three_failed_calls(branch, agent, sms_opt_out=True)
    Visit.objects.filter(pk=visit.pk).update(suspected_fraud=True)
    with time_machine.travel(at(10, 10), tick=False):
        assert retry_unreached()["to_sms"] == 1
        assert sms_send_due() == 1
    assert SmsMessage.objects.get(visit=visit).status == "sent"


@pytest.mark.spec("4.sms-opt-out", clause="五.2")
def test_an_opt_out_while_waiting_for_a_reply_moves_the_visit_on_at_the_next_run(branch, agent):
    visit = three_failed_calls(branch, agent)
    with time_machine.travel(at(10, 10), tick=False):
        retry_unreached()
        sms_send_due()
    Customer.objects.filter(pk=visit.account.customer_id).update(sms_opt_out=True)  # "TD"
    with time_machine.travel(at(10, 12), tick=False):  # well inside the two-day wait
        assert retry_unreached()["to_online"] == 1
    assert channel(visit) == "online"
