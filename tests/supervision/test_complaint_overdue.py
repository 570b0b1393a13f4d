"""The overdue-complaint alert (SPEC §8): a scheduled job notices each open complaint past its
decision date to its investigator and the supervisors of its branch, once per missed date."""

import datetime as dt

import pytest
import time_machine

from accounts.models import Role
from accounts.services import staff_create
from core.models import AuditLogEntry, Notification
from core.schedules import SCHEDULES
from supervision.complaints import (
    complaint_answer,
    complaint_assign,
    complaint_change_decide,
    complaint_change_request,
    complaint_register,
)
from supervision.tasks import complaint_overdue_task
from tests.fixtures import PASSWORD

from .conftest import at, make_record

pytestmark = [pytest.mark.django_db, pytest.mark.spec("8.complaints", clause="十.2")]

# Received Monday 2026-11-02 09:00: decision due by the end of Tuesday 2026-11-17.
DEADLINE = at(2026, 11, 17, 23, 59) + dt.timedelta(seconds=59)


@pytest.fixture
def investigator(branch):
    return staff_create(
        username="super2", password=PASSWORD, role=Role.SUPERVISOR, branches=[branch]
    )


@pytest.fixture
def elsewhere(other_branch):
    return staff_create(
        username="super-sh", password=PASSWORD, role=Role.SUPERVISOR, branches=[other_branch]
    )


@pytest.fixture
def complaint(supervisor, investigator, agent, branch):
    record = make_record(agent=agent, branch=branch, submitted_at=at(2026, 10, 3))
    complaint = complaint_register(
        source="hotline",
        text="回访人员态度差",
        by=supervisor,
        received_at=at(2026, 11, 2, 9),
        visit=record.visit,
    )
    assert complaint.decision_due_at == DEADLINE
    return complaint_assign(complaint=complaint, investigator=investigator, by=supervisor)


def run_at(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return complaint_overdue_task.delay().get()


def noticed(user) -> list[str]:
    return list(
        Notification.objects.filter(user=user, dedup_key__startswith="complaint:").values_list(
            "message", flat=True
        )
    )


def test_it_is_a_scheduled_job():
    entry = next(e for e in SCHEDULES if e.task == "supervision.tasks.complaint_overdue_task")
    assert entry.name == "supervision.complaint_overdue"


def test_it_notices_the_investigator_and_the_branchs_supervisors_once_per_missed_date(
    complaint, supervisor, investigator, elsewhere, agent
):
    assert run_at(DEADLINE) == 0  # 23:59:59 on the last day is still in time
    assert run_at(DEADLINE + dt.timedelta(seconds=1)) == 1  # 00:00:00 the day after
    assert noticed(investigator) == [
        f"投诉 #{complaint.pk} 已超过答复期限 2026-11-17 23:59，尚未答复客户"
    ]
    assert len(noticed(supervisor)) == 1
    assert noticed(elsewhere) == [] and noticed(agent) == []  # another branch; not a supervisor
    assert run_at(DEADLINE + dt.timedelta(hours=1)) == 0  # once per missed date
    assert Notification.objects.filter(dedup_key__startswith="complaint:").count() == 2
    assert AuditLogEntry.objects.filter(action="complaint.overdue").count() == 1


def test_a_new_date_after_an_extension_is_noticed_again_when_missed(
    complaint, supervisor, investigator, branch
):
    third = staff_create(
        username="super3", password=PASSWORD, role=Role.SUPERVISOR, branches=[branch]
    )
    assert run_at(DEADLINE + dt.timedelta(seconds=1)) == 1
    with time_machine.travel(at(2026, 11, 18, 9), tick=False):
        asked = complaint_change_request(complaint=complaint, kind="complex", by=investigator)
        complaint_change_decide(change=asked, approve=True, by=third)  # 30 days: 2026-12-02
    assert run_at(at(2026, 12, 2, 23, 59)) == 0
    assert run_at(at(2026, 12, 3, 0, 0)) == 1
    assert len(noticed(investigator)) == 2


def test_an_answered_complaint_is_never_noticed(complaint, investigator):
    with time_machine.travel(at(2026, 11, 17, 18), tick=False):
        complaint_answer(complaint=complaint, upheld=False, answer="已核实", by=investigator)
    assert run_at(DEADLINE + dt.timedelta(days=1)) == 0
    assert noticed(investigator) == []


def test_an_unlinked_online_complaint_goes_to_every_supervisor(supervisor, elsewhere):
    online = complaint_register(
        source="online",
        text="电话太多",
        received_at=at(2026, 11, 2, 9),
        contact_phone="13800138000",
    )
    assert online.branch is None and online.investigator is None
    assert run_at(DEADLINE + dt.timedelta(seconds=1)) == 1
    assert len(noticed(supervisor)) == 1 and len(noticed(elsewhere)) == 1
