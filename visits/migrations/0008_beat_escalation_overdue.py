# Data migration: the Celery beat schedule of the escalation overdue monitor (every 10 minutes;
# editable in the admin under "Periodic tasks").
import json

from django.db import migrations

NAME = "visits.escalation_overdue"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_ten, _ = IntervalSchedule.objects.get_or_create(every=10, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "visits.tasks.escalation_overdue_task",
            "interval": every_ten,
            "kwargs": json.dumps({}),
            "description": "Flag overdue escalations, notify handlers and supervisors (every 10 minutes).",
        },
    )


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("visits", "0007_beat_generation_schedules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
