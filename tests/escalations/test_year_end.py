"""Escalation deadlines and follow-up visits at the calendar's year end (SPEC §4, §7): with
2027 not loaded, a deadline in it is provisional (Monday-Friday), never refused, so the record
that raises it is saved; loading 2027 recomputes it, however late."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from core.calendar_plans import calendar_year_load
from escalations.models import Escalation, EscalationStatus
from escalations.services import escalation_open, escalation_reopen, escalation_reply
from tests.factories import AccountEventFactory
from tests.visits.workspace_helpers import RECORD_OK, open_visit
from visits.models import TransactionCheck, Visit, VisitRecord, VisitTrigger
from workspace.services import attempt_log

pytestmark = [pytest.mark.django_db, pytest.mark.spec("4.business-calendar")]

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YEARS_DAY_OFF = [(date(2027, 1, 1), False, "元旦")]


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def load_2027_late():
    # Mid-February: long after every deadline below.
    with time_machine.travel(at(2027, 2, 14, 10), tick=False):
        return calendar_year_load(year=2027, days=NEW_YEARS_DAY_OFF, source="test")


def test_escalations_opened_on_12_29_and_12_31_get_provisional_deadlines_recomputed_on_loading(
    visit, agent, security_dept
):
    def open_at(moment, urgency):
        with time_machine.travel(moment, tick=False):
            return escalation_open(
                visit=visit, department=security_dept, urgency=urgency, description="x", by=agent
            )

    # Tuesday 12-29 + 3 business days: 12-30, 12-31, then Friday 2027-01-01 (provisional).
    normal = open_at(at(2026, 12, 29, 10), "normal")
    # Thursday 12-31 16:00 + 4 working hours: one today, three on 2027-01-01 (provisional).
    urgent = open_at(at(2026, 12, 31, 16), "urgent")
    # 12-31 + 1 business day.
    high = open_at(at(2026, 12, 31, 10), "high")
    # Within 2026: not provisional.
    early = open_at(at(2026, 12, 29, 10), "high")
    assert [(e.deadline_at, e.due_provisional) for e in (normal, urgent, high, early)] == [
        (at(2027, 1, 1, 17), True),
        (at(2027, 1, 1, 12), True),
        (at(2027, 1, 1, 17), True),
        (at(2026, 12, 30, 17), False),
    ]
    result = load_2027_late()
    assert result["recomputed"]["escalations"] == 3
    after = {e.pk: (e.deadline_at, e.due_provisional) for e in Escalation.objects.all()}
    assert after == {
        normal.pk: (at(2027, 1, 4, 17), False),
        urgent.pk: (at(2027, 1, 4, 12), False),
        high.pk: (at(2027, 1, 4, 17), False),
        early.pk: (at(2026, 12, 30, 17), False),
    }


def test_a_reopened_escalation_is_recomputed_from_its_reopening(make_escalation, agent):
    with time_machine.travel(at(2026, 12, 10, 10), tick=False):
        escalation = make_escalation(EscalationStatus.REPLIED)
    with time_machine.travel(at(2026, 12, 31, 10), tick=False):
        escalation = escalation_reopen(escalation=escalation, by=agent, words="还是不行")
    assert (escalation.deadline_at, escalation.due_provisional) == (at(2027, 1, 5, 17), True)
    load_2027_late()
    escalation.refresh_from_db()
    # 12-31 + 3 business days with 2027-01-01 off: 01-04, 01-05, 01-06.
    assert (escalation.deadline_at, escalation.due_provisional) == (at(2027, 1, 6, 17), False)


def test_a_follow_up_visit_due_in_2027_is_provisional_then_recomputed(make_escalation, agent):
    with time_machine.travel(at(2026, 12, 10, 10), tick=False):
        escalation = make_escalation(EscalationStatus.RESOLVED)
    with time_machine.travel(at(2026, 12, 31, 11), tick=False):
        escalation = escalation_reply(escalation=escalation, by=agent, note="已告知客户")
    follow_up = escalation.follow_up_visit
    assert (follow_up.due_at, follow_up.due_provisional) == (at(2027, 1, 1, 17), True)
    assert load_2027_late()["recomputed"]["follow_up_visits"] == 1
    follow_up.refresh_from_db()
    assert (follow_up.due_at, follow_up.due_provisional) == (at(2027, 1, 4, 17), False)


def test_a_fraud_denial_on_12_31_saves_the_record_and_its_escalation(
    client, agent, account, security_dept
):
    with time_machine.travel(at(2026, 12, 31, 16), tick=False):
        visit = open_visit(account.branch, agent=agent, account=account, kind="special_event")
        bad = AccountEventFactory(account=account, amount="90000.00", currency="CNY", flagged=True)
        VisitTrigger.objects.create(visit=visit, event=bad)
        attempt_log(visit=visit, agent=agent, outcome="reached")
        client.force_login(agent)
        response = client.post(
            reverse("workspace:record", args=[visit.pk]), {**RECORD_OK, f"r-txn_{bad.pk}": "deny"}
        )
    assert response.status_code == 302
    assert VisitRecord.objects.filter(visit=visit).exists()
    assert TransactionCheck.objects.get(event=bad).confirmed is False
    escalation = Escalation.objects.get()
    assert (escalation.department, escalation.urgency) == (security_dept, "urgent")
    assert (escalation.deadline_at, escalation.due_provisional) == (at(2027, 1, 1, 12), True)
    assert Visit.objects.get(pk=visit.pk).status == "completed"
