# Data migration: the Celery beat schedules of visit generation, assignment and the fallback
# ladder (editable in the admin under "Periodic tasks").
import json

from django.db import migrations

TASKS = [
    # name, task, schedule, description
    ("visits.generate_due_visits", "visits.tasks.generate_due_visits_task", ("crontab", "0", "1"),
     "Create due new-account and periodic visits (daily 01:00)."),
    ("visits.assign_visits", "visits.tasks.assign_visits_task", ("interval", 5),
     "Assign pending visits to agents of their branch by load (every 5 minutes)."),
    ("visits.retry_unreached", "visits.tasks.retry_unreached_task", ("crontab", "30", "8"),
     "Fallback ladder: phone -> SMS -> online questionnaire -> unreachable (daily 08:30)."),
]


def seed(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, schedule, description in TASKS:
        defaults = {"task": task, "kwargs": json.dumps({}), "description": description}
        if schedule[0] == "crontab":
            defaults["crontab"], _ = CrontabSchedule.objects.get_or_create(
                minute=schedule[1], hour=schedule[2], day_of_week="*", day_of_month="*",
                month_of_year="*", timezone="Asia/Shanghai",
            )
        else:
            defaults["interval"], _ = IntervalSchedule.objects.get_or_create(
                every=schedule[1], period="minutes"
            )
        PeriodicTask.objects.get_or_create(name=name, defaults=defaults)


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[t[0] for t in TASKS]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("visits", "0006_seed_sms_questionnaire_beat"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
