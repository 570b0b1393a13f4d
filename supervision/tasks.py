"""Celery tasks of supervision. Thin: they call a service and are safe to run twice (a unique
constraint on scheduled samples; a frozen month refuses a second computation)."""

import datetime as dt
import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

logger = logging.getLogger(__name__)

_RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="supervision.tasks.draft_monthly_samples_task", **_RETRY)
def draft_monthly_samples_task() -> int:
    """1st of the month: a draft audit sample of last month for each supervisor."""
    from .services import monthly_samples_draft

    drafted = monthly_samples_draft()
    logger.info("draft_monthly_samples_task", extra={"drafted": drafted})
    return drafted


@shared_task(name="supervision.tasks.compute_monthly_assessment_task", **_RETRY)
def compute_monthly_assessment_task(month: str | None = None) -> int:
    """2nd of the month, 02:00: last month's assessment and ranking, frozen once computed.
    ``month`` (YYYY-MM-DD) recomputes a given month unless it is frozen."""
    from .services import AssessmentFrozen, assessment_compute, last_month

    target = dt.date.fromisoformat(month) if month else last_month(timezone.localdate())[0]
    try:
        count = assessment_compute(month=target)
    except AssessmentFrozen:
        logger.info("compute_monthly_assessment_task: frozen", extra={"month": str(target)})
        return 0
    logger.info("compute_monthly_assessment_task", extra={"month": str(target), "agents": count})
    return count
