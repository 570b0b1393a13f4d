"""Every scheduled job in one table. ``schedules_sync`` writes it into django-celery-beat after
each migrate (and with ``manage.py sync_schedules``); an administrator may retime an entry in the
admin, and a later sync keeps the retimed schedule.

Task names are ``<app>.tasks.<function>``; each task module uses ``core.tasks.RETRY_POLICY``."""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    description: str
    every_minutes: int | None = None  # an interval ...
    minute: str = "0"  # ... or a crontab
    hour: str = "*"
    day_of_month: str = "*"


SCHEDULES: tuple[Schedule, ...] = (
    Schedule(
        "visits.generate_due_visits",
        "visits.tasks.generate_due_visits_task",
        "Create due new-account and periodic visits (daily 01:00).",
        minute="0",
        hour="1",
    ),
    Schedule(
        "visits.event_store_maintain",
        "visits.tasks.event_store_maintain_task",
        "Event store: next months' partitions, events past retention that no visit points "
        "to dropped by month, expired idempotency keys deleted (daily 03:30).",
        minute="30",
        hour="3",
    ),
    Schedule(
        "visits.assign_visits",
        "visits.tasks.assign_visits_task",
        "Assign pending visits to agents of their branch by load (every 5 minutes).",
        every_minutes=5,
    ),
    Schedule(
        "workspace.retry_unreached",
        "workspace.tasks.retry_unreached_task",
        "Fallback ladder: phone -> SMS -> online questionnaire -> unreachable (daily 08:30).",
        minute="30",
        hour="8",
    ),
    Schedule(
        "workspace.record_drafts_purge",
        "workspace.tasks.record_drafts_purge_task",
        "Record-form drafts of closed visits, or untouched for RETENTION_DRAFT_DAYS, deleted "
        "(daily 03:45).",
        minute="45",
        hour="3",
    ),
    Schedule(
        "workspace.sms_send_due",
        "workspace.tasks.sms_send_due_task",
        "Send queued SMS whose time has come (quiet hours and caps apply).",
        every_minutes=1,
    ),
    Schedule(
        "escalations.mark_overdue",
        "escalations.tasks.escalation_overdue_task",
        "Flag overdue escalations, notify handlers and supervisors (every 10 minutes).",
        every_minutes=10,
    ),
    Schedule(
        "supervision.complaint_overdue",
        "supervision.tasks.complaint_overdue_task",
        "Complaints past their decision date: notice to the investigator and the branch's "
        "supervisors, once per missed date (hourly at :05).",
        minute="5",
    ),
    Schedule(
        "supervision.rollups_refresh",
        "supervision.tasks.rollups_refresh_task",
        "Dashboard roll-ups: the days of the visits changed since the watermark (every 5 minutes).",
        every_minutes=5,
    ),
    Schedule(
        "supervision.rollups_reconcile",
        "supervision.tasks.rollups_reconcile_task",
        "Dashboard roll-ups rebuilt from the visits, day by day (daily 04:00).",
        minute="0",
        hour="4",
    ),
    Schedule(
        "supervision.draft_monthly_samples",
        "supervision.tasks.draft_monthly_samples_task",
        "Draft last month's audit sample for each supervisor (1st, 01:00).",
        minute="0",
        hour="1",
        day_of_month="1",
    ),
    Schedule(
        "supervision.compute_monthly_assessment",
        "supervision.tasks.compute_monthly_assessment_task",
        "Compute and freeze last month's assessment and ranking (2nd, 02:00).",
        minute="0",
        hour="2",
        day_of_month="2",
    ),
    Schedule(
        "supervision.audit_anchor",
        "supervision.tasks.audit_anchor_task",
        "Audit log anchor: head hash and count appended to AUDIT_ANCHOR_FILE and the logs "
        "(every 15 minutes).",
        every_minutes=15,
    ),
    Schedule(
        "supervision.backup_daily",
        "supervision.tasks.backup_daily_task",
        "Daily backup (02:30).",
        minute="30",
        hour="2",
    ),
    Schedule(
        "supervision.destruction_list_monthly",
        "supervision.tasks.destruction_list_monthly_task",
        "Draft the monthly destruction list (1st, 03:00).",
        minute="0",
        hour="3",
        day_of_month="1",
    ),
)


def schedules_sync(**kwargs) -> int:
    """Create the beat entries that are missing; point existing ones at the current task name.
    Idempotent, so two processes migrating at once write each entry once (names are unique)."""
    created = 0
    with transaction.atomic():
        for entry in SCHEDULES:
            if entry.every_minutes is not None:
                interval, _ = IntervalSchedule.objects.get_or_create(
                    every=entry.every_minutes, period=IntervalSchedule.MINUTES
                )
                timing = {"interval": interval}
            else:
                crontab, _ = CrontabSchedule.objects.get_or_create(
                    minute=entry.minute,
                    hour=entry.hour,
                    day_of_week="*",
                    day_of_month=entry.day_of_month,
                    month_of_year="*",
                    timezone=settings.TIME_ZONE,
                )
                timing = {"crontab": crontab}
            task, made = PeriodicTask.objects.get_or_create(
                name=entry.name,
                defaults={"task": entry.task, "description": entry.description, **timing},
            )
            created += made
            if not made and task.task != entry.task:
                task.task = entry.task
                task.save(update_fields=["task"])
    return created
