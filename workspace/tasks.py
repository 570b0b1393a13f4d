"""Scheduled jobs of the workspace: the fallback ladder, the SMS outbox, record-form drafts."""

import logging

from celery import shared_task

from core.tasks import RETRY_POLICY
from workspace.channels.sms import sms_send_due
from workspace.drafts import record_drafts_purge
from workspace.ladder import retry_unreached

logger = logging.getLogger(__name__)


@shared_task(name="workspace.tasks.retry_unreached_task", **RETRY_POLICY)
def retry_unreached_task():
    counts = retry_unreached()
    logger.info("retry_unreached_task", extra={"counts": counts})
    return counts


@shared_task(name="workspace.tasks.sms_send_due_task", **RETRY_POLICY)
def sms_send_due_task():
    """Every minute: send queued SMS whose time has come. Safe with several workers: each
    message is claimed with SKIP LOCKED and a conditional UPDATE (see channels/sms.py)."""
    sent = sms_send_due()
    logger.info("sms_send_due_task", extra={"sent": sent})
    return sent


@shared_task(name="workspace.tasks.record_drafts_purge_task", **RETRY_POLICY)
def record_drafts_purge_task() -> int:
    """Daily: record-form drafts of closed visits, and those untouched for RETENTION_DRAFT_DAYS,
    deleted (their retention rule)."""
    deleted = record_drafts_purge()
    logger.info("record_drafts_purge_task", extra={"deleted": deleted})
    return deleted
