"""Deadlines from urgency on the business calendar (2025 data loaded by migration 0004):
weekends, the National Day break 10-01..10-08 and its makeup Saturday 10-11."""

import datetime as dt

import pytest

from core.calendar import Due
from escalations.deadlines import escalation_deadline, near_deadline_threshold
from escalations.models import EscalationStatus, Urgency
from escalations.services import (
    escalation_accept,
    escalation_extend,
    escalation_reopen,
    escalation_transfer,
)

from .conftest import at

pytestmark = [pytest.mark.spec("7.deadline"), pytest.mark.django_db]


@pytest.mark.parametrize(
    ("urgency", "start", "deadline"),
    [
        # Friday afternoon: 2 working hours on Friday, 2 on Monday.
        (Urgency.URGENT, at(2025, 9, 12, 15, 0), at(2025, 9, 15, 11, 0)),
        # One business day from Friday is the end of Monday.
        (Urgency.HIGH, at(2025, 9, 12, 10, 0), at(2025, 9, 15, 17, 0)),
        # Three business days from Thursday: Fri, Mon, Tue.
        (Urgency.NORMAL, at(2025, 9, 11, 16, 0), at(2025, 9, 16, 17, 0)),
        # Opened on a Saturday: working hours count from Monday's opening.
        (Urgency.URGENT, at(2025, 9, 13, 11, 0), at(2025, 9, 15, 13, 0)),
    ],
)
def test_it_skips_the_weekend(urgency, start, deadline):
    assert escalation_deadline(urgency=urgency, start=start) == Due(deadline)


@pytest.mark.parametrize(
    ("urgency", "start", "deadline"),
    [
        (Urgency.HIGH, at(2025, 9, 30, 10, 0), at(2025, 10, 9, 17, 0)),
        (Urgency.URGENT, at(2025, 9, 30, 15, 0), at(2025, 10, 9, 11, 0)),
        # 10-09 Thu, 10-10 Fri, 10-11 the makeup Saturday.
        (Urgency.NORMAL, at(2025, 9, 30, 10, 0), at(2025, 10, 11, 17, 0)),
        # 2025-09-28 is a Sunday worked in exchange for the break.
        (Urgency.URGENT, at(2025, 9, 26, 16, 0), at(2025, 9, 28, 12, 0)),
    ],
)
def test_it_skips_the_public_holiday(urgency, start, deadline):
    assert escalation_deadline(urgency=urgency, start=start) == Due(deadline)


def test_it_takes_the_deadlines_from_settings(settings):
    settings.CALLBACK = {
        **settings.CALLBACK,
        "ESCALATION_DEADLINES": {
            "urgent": ("working_hours", 2),
            "high": ("business_days", 2),
            "normal": ("business_days", 5),
        },
    }
    start = at(2025, 9, 12, 16, 0)
    assert escalation_deadline(urgency=Urgency.URGENT, start=start).at == at(2025, 9, 15, 10, 0)
    assert escalation_deadline(urgency=Urgency.HIGH, start=start).at == at(2025, 9, 16, 17, 0)


def test_it_counts_a_year_without_calendar_provisionally_on_monday_to_friday():
    # 2031 is not loaded: Monday 2031-03-03 + 1 business day is Tuesday, flagged provisional.
    deadline = escalation_deadline(urgency=Urgency.HIGH, start=at(2031, 3, 3, 10, 0))
    assert deadline == Due(at(2031, 3, 4, 17, 0), provisional=True)


def test_it_sets_the_deadline_when_opened(make_escalation):
    # Wednesday 2025-09-10 10:00 (the frozen clock).
    assert make_escalation(urgency=Urgency.URGENT).deadline_at == at(2025, 9, 10, 14, 0)
    assert make_escalation(urgency=Urgency.NORMAL).deadline_at == at(2025, 9, 15, 17, 0)


def test_it_keeps_the_deadline_on_transfer(make_escalation, handler, ebanking_dept):
    escalation = escalation_accept(escalation=make_escalation(), by=handler)
    moved = escalation_transfer(
        escalation=escalation, by=handler, department=ebanking_dept, reason="网银问题"
    )
    assert moved.deadline_at == escalation.deadline_at
    assert moved.department == ebanking_dept
    assert moved.status == EscalationStatus.OPENED
    assert moved.handler is None


def test_it_gives_a_reopened_escalation_a_new_deadline(make_escalation, agent, wednesday_morning):
    escalation = make_escalation(EscalationStatus.REPLIED, urgency=Urgency.HIGH)
    wednesday_morning.move_to(at(2025, 9, 30, 10, 0))
    reopened = escalation_reopen(escalation=escalation, by=agent, words="问题依旧")
    assert reopened.round == 2
    assert reopened.deadline_at == at(2025, 10, 9, 17, 0)
    assert reopened.handler is None


def test_it_extends_the_deadline_with_a_reason(make_escalation, supervisor):
    escalation = make_escalation()
    later = escalation.deadline_at + dt.timedelta(days=3)
    extended = escalation_extend(
        escalation=escalation, by=supervisor, new_deadline=later, reason="等待公安回函"
    )
    assert extended.deadline_at == later
    step = extended.steps.latest("pk")
    assert step.action == "extend" and "等待公安回函" in step.note and step.by == supervisor


def test_it_counts_near_deadline_in_working_hours():
    # Friday 16:30: one working hour later is Monday 09:30.
    assert near_deadline_threshold(at(2025, 9, 12, 16, 30)) == at(2025, 9, 15, 9, 30)
