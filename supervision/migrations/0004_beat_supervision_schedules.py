# Data migration: the Celery beat schedules of supervision (editable in the admin under
# "Periodic tasks"): the monthly audit sample draft and the monthly assessment.
import json

from django.db import migrations

TASKS = [
    # name, task, (minute, hour, day of month), description
    ("supervision.draft_monthly_samples", "supervision.tasks.draft_monthly_samples_task",
     ("0", "1", "1"), "Draft last month's audit sample for each supervisor (1st, 01:00)."),
    ("supervision.compute_monthly_assessment", "supervision.tasks.compute_monthly_assessment_task",
     ("0", "2", "2"), "Compute and freeze last month's assessment and ranking (2nd, 02:00)."),
]


def seed(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, (minute, hour, day), description in TASKS:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month=day, month_of_year="*",
            timezone="Asia/Shanghai",
        )
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={"task": task, "kwargs": json.dumps({}), "description": description,
                      "crontab": crontab},
        )


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[t[0] for t in TASKS]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("supervision", "0003_protect_records_and_destruction"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
