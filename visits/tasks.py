"""Celery tasks of the visits app. Thin: they call a service, log, and retry on transient
database errors. Each is safe to run twice (see the services)."""

import logging

from celery import shared_task
from django.db import OperationalError

logger = logging.getLogger(__name__)

# --- Visit generation, assignment and the fallback ladder (issue 3) ---------------------------

_RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="visits.tasks.generate_due_visits_task", **_RETRY)
def generate_due_visits_task():
    from .generation import generate_due_visits

    created = generate_due_visits()
    logger.info("generate_due_visits_task", extra={"visits_created": created})
    return created


@shared_task(name="visits.tasks.assign_visits_task", **_RETRY)
def assign_visits_task():
    from .generation import assign_visits

    assigned = assign_visits()
    logger.info("assign_visits_task", extra={"assigned": assigned})
    return assigned


@shared_task(name="visits.tasks.retry_unreached_task", **_RETRY)
def retry_unreached_task():
    from .generation import retry_unreached

    counts = retry_unreached()
    logger.info("retry_unreached_task", extra={"counts": counts})
    return counts


# --- Other tasks of the visits app below -------------------------------------------------------


# --- Escalation monitoring (issue 5) -----------------------------------------------------------


@shared_task(name="visits.tasks.escalation_overdue_task", **_RETRY)
def escalation_overdue_task():
    """Every 10 minutes (beat): flag overdue escalations and notify, once per missed deadline."""
    from .escalations import escalation_mark_overdue

    flagged = escalation_mark_overdue()
    logger.info("escalation_overdue_task", extra={"flagged": flagged})
    return flagged


# --- SMS outbox (issue 4) ----------------------------------------------------------------------


@shared_task(name="visits.tasks.sms_send_due_task", **_RETRY)
def sms_send_due_task():
    """Every minute (beat): send queued SMS whose time has come. Safe with several workers:
    each message is claimed with SKIP LOCKED and a conditional UPDATE (see channels/sms.py)."""
    from .channels.sms import sms_send_due

    sent = sms_send_due()
    logger.info("sms_send_due_task", extra={"sent": sent})
    return sent
