"""Scheduled jobs of supervision and compliance. Thin: each calls a service and is safe to run
twice (a unique constraint on scheduled samples; a frozen month refuses a second computation;
one destruction list a month)."""

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from core.tasks import RETRY_POLICY
from supervision.assessment import AssessmentFrozen, assessment_compute
from supervision.audit_chain import audit_anchor_write
from supervision.backup import backup_create
from supervision.complaints import complaints_overdue_notify
from supervision.periods import last_month
from supervision.retention import destruction_list_draft
from supervision.rollups import rollups_reconcile, rollups_refresh
from supervision.sampling import monthly_samples_draft

logger = logging.getLogger(__name__)


@shared_task(name="supervision.tasks.draft_monthly_samples_task", **RETRY_POLICY)
def draft_monthly_samples_task() -> int:
    """1st of the month: a draft audit sample of last month for each supervisor."""
    drafted = monthly_samples_draft()
    logger.info("draft_monthly_samples_task", extra={"drafted": drafted})
    return drafted


@shared_task(name="supervision.tasks.compute_monthly_assessment_task", **RETRY_POLICY)
def compute_monthly_assessment_task(month: str | None = None) -> int:
    """2nd of the month, 02:00: last month's assessment and ranking, frozen once computed.
    ``month`` (YYYY-MM-DD) recomputes a given month unless it is frozen."""
    target = dt.date.fromisoformat(month) if month else last_month(timezone.localdate())[0]
    try:
        count = assessment_compute(month=target)
    except AssessmentFrozen:
        logger.info("compute_monthly_assessment_task: frozen", extra={"month": str(target)})
        return 0
    logger.info("compute_monthly_assessment_task", extra={"month": str(target), "agents": count})
    return count


@shared_task(name="supervision.tasks.audit_anchor_task", **RETRY_POLICY)
def audit_anchor_task() -> int | None:
    anchor = audit_anchor_write()
    return anchor["last_id"] if anchor else None


@shared_task(name="supervision.tasks.backup_daily_task", acks_late=True, **RETRY_POLICY)
def backup_daily_task() -> str:
    return str(backup_create().name)


@shared_task(name="supervision.tasks.destruction_list_monthly_task", **RETRY_POLICY)
def destruction_list_monthly_task() -> int | None:
    created = destruction_list_draft()
    return created.pk if created else None


@shared_task(name="supervision.tasks.rollups_refresh_task", **RETRY_POLICY)
def rollups_refresh_task() -> int:
    """Every 5 minutes: the dashboard's daily roll-ups of the visits changed since last time."""
    days = rollups_refresh()
    logger.info("rollups_refresh_task", extra={"days": days})
    return days


@shared_task(name="supervision.tasks.rollups_reconcile_task", **RETRY_POLICY)
def rollups_reconcile_task() -> int:
    """Nightly: the roll-ups rebuilt from the visits, day by day."""
    days = rollups_reconcile()
    logger.info("rollups_reconcile_task", extra={"days": days})
    return days


@shared_task(name="supervision.tasks.complaint_overdue_task", **RETRY_POLICY)
def complaint_overdue_task() -> int:
    """Hourly: complaints past their decision date noticed to their investigator and the
    supervisors of their branch, once per missed date."""
    noticed = complaints_overdue_notify()
    logger.info("complaint_overdue_task", extra={"noticed": noticed})
    return noticed
