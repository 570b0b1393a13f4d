"""The table of scheduled jobs reaches django-celery-beat after migrate and through
``manage.py sync_schedules``: missing entries come back, task names follow the table, a
schedule retimed by an administrator keeps its timing."""

import io

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from core.schedules import SCHEDULES

pytestmark = pytest.mark.django_db


def sync() -> str:
    out = io.StringIO()
    call_command("sync_schedules", stdout=out)
    return out.getvalue()


def test_migrate_wrote_every_schedule_of_the_table():
    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert {entry.name for entry in SCHEDULES} <= names


def test_it_restores_a_deleted_entry_and_the_task_name_of_a_renamed_one():
    generation = next(e for e in SCHEDULES if e.name == "visits.generate_due_visits")
    PeriodicTask.objects.filter(name=generation.name).delete()
    ladder = next(e for e in SCHEDULES if e.name == "workspace.retry_unreached")
    PeriodicTask.objects.filter(name=ladder.name).update(task="visits.tasks.old_name")
    assert sync().strip() == f"{len(SCHEDULES)} schedules, 1 created"
    assert PeriodicTask.objects.get(name=generation.name).task == generation.task
    assert PeriodicTask.objects.get(name=ladder.name).task == ladder.task
    assert sync().strip() == f"{len(SCHEDULES)} schedules, 0 created"  # idempotent


def test_it_keeps_a_schedule_retimed_in_the_admin():
    outbox = next(e for e in SCHEDULES if e.every_minutes is not None)
    every_three, _ = IntervalSchedule.objects.get_or_create(
        every=3, period=IntervalSchedule.MINUTES
    )
    PeriodicTask.objects.filter(name=outbox.name).update(interval=every_three)
    sync()
    assert PeriodicTask.objects.get(name=outbox.name).interval.every == 3
