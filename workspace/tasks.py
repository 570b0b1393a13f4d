"""Scheduled jobs of the workspace channels: the fallback ladder and the SMS outbox."""

import logging

from celery import shared_task

from core.tasks import RETRY_POLICY
from workspace.channels.sms import sms_send_due
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
