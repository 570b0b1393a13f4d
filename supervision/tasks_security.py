"""Scheduled jobs of records integrity: the daily backup and the monthly destruction list.

Schedules (django-celery-beat, created by ``ensure_security_schedules`` after migrate):
backup daily at 02:30, destruction list on the 1st of each month at 03:00."""

from celery import shared_task

from .backup import backup_create
from .retention import destruction_list_draft


@shared_task(name="supervision.backup_daily", acks_late=True)
def backup_daily() -> str:
    return str(backup_create().name)


@shared_task(name="supervision.destruction_list_monthly")
def destruction_list_monthly() -> int | None:
    created = destruction_list_draft()
    return created.pk if created else None


def ensure_security_schedules(**kwargs) -> None:
    """Idempotent: the beat entries exist after every migrate (the admin may retime them)."""
    from django.conf import settings
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    TIME_ZONE = settings.TIME_ZONE
    daily, _ = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="2",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=TIME_ZONE,
    )
    monthly, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="3",
        day_of_week="*",
        day_of_month="1",
        month_of_year="*",
        timezone=TIME_ZONE,
    )
    PeriodicTask.objects.get_or_create(
        name="每日备份 / daily backup",
        defaults={"task": "supervision.backup_daily", "crontab": daily},
    )
    PeriodicTask.objects.get_or_create(
        name="每月销毁清单 / monthly destruction list",
        defaults={"task": "supervision.destruction_list_monthly", "crontab": monthly},
    )
