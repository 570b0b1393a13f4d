"""A notification about a complaint is marked read once its recipient acts on the complaint,
and for everyone once the item it asked about is settled: a change request decided, an overdue
complaint answered."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Role
from accounts.services import staff_create
from core.models import Notification
from core.notifications import notifications_read_about, notify
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

pytestmark = [pytest.mark.django_db, pytest.mark.spec("8.complaints")]

# Received Monday 2026-11-02 09:00: decision due by the end of Tuesday 2026-11-17.
LATE = at(2026, 11, 18, 9)


def _supervisor(branch, username):
    return staff_create(
        username=username, password=PASSWORD, role=Role.SUPERVISOR, branches=[branch]
    )


@pytest.fixture
def investigator(branch):
    return _supervisor(branch, "super2")


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
    return complaint_assign(complaint=complaint, investigator=investigator, by=supervisor)


def unread(user, prefix):
    return Notification.objects.filter(
        user=user, dedup_key__startswith=prefix, read_at__isnull=True
    ).count()


def overdue_noticed():
    with time_machine.travel(LATE, tick=False):
        assert complaint_overdue_task.delay().get() == 1


def test_deciding_a_change_request_marks_its_notices_read_for_every_decider(
    complaint, investigator, branch
):
    third, fourth = _supervisor(branch, "super3"), _supervisor(branch, "super4")
    with time_machine.travel(at(2026, 11, 3, 9), tick=False):
        asked = complaint_change_request(complaint=complaint, kind="complex", by=investigator)
    prefix = f"complaint-change:{asked.pk}:"
    assert unread(third, prefix) == 1 and unread(fourth, prefix) == 1
    other = complaint_register(
        source="hotline", text="另一投诉", by=third, received_at=at(2026, 11, 2, 9)
    )
    with time_machine.travel(at(2026, 11, 3, 10), tick=False):
        other_asked = complaint_change_request(complaint=other, kind="complex", by=investigator)
        complaint_change_decide(change=asked, approve=True, by=third)
    assert unread(third, prefix) == 0 and unread(fourth, prefix) == 0
    # The request about the other complaint still waits for its decider.
    assert unread(fourth, f"complaint-change:{other_asked.pk}:") == 1


def test_answering_marks_the_overdue_notices_read_for_everyone(complaint, supervisor, investigator):
    overdue_noticed()
    prefix = f"complaint:{complaint.pk}:overdue:"
    assert unread(investigator, prefix) == 1 and unread(supervisor, prefix) == 1
    with time_machine.travel(LATE + dt.timedelta(hours=1), tick=False):
        complaint_answer(complaint=complaint, upheld=False, answer="已核实", by=investigator)
    assert unread(investigator, prefix) == 0 and unread(supervisor, prefix) == 0


def test_acting_on_the_complaint_page_marks_the_actors_overdue_notice_read(
    client, complaint, supervisor, investigator
):
    overdue_noticed()
    prefix = f"complaint:{complaint.pk}:overdue:"
    client.force_login(supervisor)
    with time_machine.travel(LATE + dt.timedelta(hours=1), tick=False):
        # A refused action changes nothing and leaves the notice unread.
        response = client.post(
            reverse("supervision:complaint", args=[complaint.pk]), {"action": "assign"}
        )
        assert response.status_code == 200
        assert unread(supervisor, prefix) == 1
        response = client.post(
            reverse("supervision:complaint", args=[complaint.pk]),
            {"action": "classify", "reason": "涉及多个网点"},
        )
    assert response.status_code == 302
    assert unread(supervisor, prefix) == 0
    assert unread(investigator, prefix) == 1  # the investigator has not acted yet


def test_a_key_marks_only_its_own_notifications(supervisor, investigator):
    for key in ("complaint:1:overdue:x", "complaint:12:overdue:x", "complaint-change:1"):
        notify([supervisor, investigator], message="m", link="/", key=key)
    assert notifications_read_about(key="complaint:1:overdue:", user=supervisor) == 1
    assert notifications_read_about(key="complaint-change:1") == 2
    assert unread(supervisor, "complaint:12:") == 1 and unread(investigator, "complaint:1:") == 1
