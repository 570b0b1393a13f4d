"""Scheduled job of escalations: flag the overdue ones."""

import logging

from celery import shared_task

from core.tasks import RETRY_POLICY
from escalations.overdue import escalation_mark_overdue

logger = logging.getLogger(__name__)


@shared_task(name="escalations.tasks.escalation_overdue_task", **RETRY_POLICY)
def escalation_overdue_task():
    """Every 10 minutes: flag overdue escalations and notify, once per missed deadline."""
    flagged = escalation_mark_overdue()
    logger.info("escalation_overdue_task", extra={"flagged": flagged})
    return flagged
