"""The overdue monitor: flags once per missed deadline, notifies once (in the app and by
e-mail) however often it runs, raises repeated misses to the supervisors."""

import datetime as dt

import pytest
from django.core import mail

from core.models import Notification
from escalations.deadlines import escalations_raised
from escalations.models import Escalation, EscalationStatus
from escalations.overdue import escalation_mark_overdue
from escalations.services import escalation_accept, escalation_extend
from escalations.tasks import escalation_overdue_task

from .conftest import at

pytestmark = [pytest.mark.spec("7.overdue"), pytest.mark.django_db]


@pytest.fixture
def supervisor_with_mail(supervisor):
    supervisor.email = "super1@bank.example"
    supervisor.save(update_fields=["email"])
    return supervisor


@pytest.fixture
def overdue(make_escalation, named_handler, wednesday_morning):
    """Accepted by 张三, urgent, due 14:00; the clock is then moved to 15:00."""
    escalation = escalation_accept(escalation=make_escalation(urgency="urgent"), by=named_handler)
    assert escalation.deadline_at == at(2025, 9, 10, 14, 0)
    mail.outbox.clear()
    Notification.objects.all().delete()
    wednesday_morning.move_to(at(2025, 9, 10, 15, 0))
    return escalation


def test_it_notifies_once_when_run_twice(
    overdue, named_handler, supervisor_with_mail, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert escalation_mark_overdue() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert escalation_mark_overdue() == 0
    escalation = Escalation.objects.get(pk=overdue.pk)
    assert escalation.overdue_count == 1
    assert escalation.overdue_notified_at == at(2025, 9, 10, 15, 0)
    assert sorted(Notification.objects.values_list("user__username", flat=True)) == [
        "handler1",
        "super1",
    ]
    assert sorted(m.to[0] for m in mail.outbox) == [
        "super1@bank.example",
        "zhangsan@bank.example",
    ]
    assert escalation.steps.filter(action="overdue").count() == 1


def test_it_notifies_once_when_the_task_is_retried(
    overdue, named_handler, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        escalation_overdue_task.delay()
        escalation_overdue_task.delay()
    assert Notification.objects.filter(user=named_handler).count() == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["zhangsan@bank.example"]


def test_it_sends_no_mail_when_a_notification_exists_already(
    overdue, named_handler, django_capture_on_commit_callbacks
):
    # The same key written by an earlier run whose flag update was lost.
    Notification.objects.create(
        user=named_handler, message="x", dedup_key=f"esc:{overdue.pk}:overdue:1:u{named_handler.pk}"
    )
    with django_capture_on_commit_callbacks(execute=True):
        escalation_mark_overdue()
    assert Notification.objects.filter(user=named_handler).count() == 1
    assert mail.outbox == []


def test_it_notifies_the_department_when_nobody_accepted(
    make_escalation, handler, second_handler, wednesday_morning
):
    escalation = make_escalation(urgency="urgent")
    Notification.objects.all().delete()
    wednesday_morning.move_to(at(2025, 9, 10, 16, 0))
    escalation_mark_overdue()
    assert set(Notification.objects.values_list("user", flat=True)) == {
        handler.pk,
        second_handler.pk,
    }
    assert Escalation.objects.get(pk=escalation.pk).overdue_count == 1


def test_it_ignores_escalations_on_time_or_done(make_escalation, wednesday_morning):
    make_escalation(urgency="normal")
    make_escalation(EscalationStatus.RESOLVED, urgency="urgent")
    make_escalation(EscalationStatus.CLOSED, urgency="urgent")
    wednesday_morning.move_to(at(2025, 9, 10, 16, 0))
    assert escalation_mark_overdue() == 0
    assert not Escalation.objects.filter(overdue_count__gt=0).exists()


def test_it_counts_a_second_miss_and_raises_it(
    overdue, supervisor_with_mail, wednesday_morning, django_capture_on_commit_callbacks
):
    escalation_mark_overdue()
    assert not escalations_raised(Escalation.objects.all()).exists()
    escalation_extend(
        escalation=overdue,
        by=supervisor_with_mail,
        new_deadline=at(2025, 9, 11, 10, 0),
        reason="等待银联回复",
    )
    wednesday_morning.move_to(at(2025, 9, 11, 11, 0))
    with django_capture_on_commit_callbacks(execute=True):
        assert escalation_mark_overdue() == 1
        assert escalation_mark_overdue() == 0
    escalation = Escalation.objects.get(pk=overdue.pk)
    assert escalation.overdue_count == 2
    assert list(escalations_raised(Escalation.objects.all())) == [escalation]
    assert (
        Notification.objects.filter(user=supervisor_with_mail, message__contains="再次超时").count()
        == 1
    )


def test_it_raises_one_overdue_long_past_the_threshold(overdue, wednesday_morning):
    escalation_mark_overdue()
    assert not escalations_raised(Escalation.objects.all()).exists()
    wednesday_morning.move_to(overdue.deadline_at + dt.timedelta(hours=25))
    assert escalations_raised(Escalation.objects.all()).get() == overdue


def test_it_is_scheduled_every_ten_minutes():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="escalations.tasks.escalation_overdue_task")
    assert (task.interval.every, task.interval.period) == (10, "minutes")
    assert task.enabled
