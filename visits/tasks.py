"""Scheduled jobs of visits: generation and assignment. Thin: each calls a service and is safe
to run twice (see the services)."""

import logging
from datetime import datetime

from celery import shared_task
from django.utils import timezone

from core.tasks import RETRY_POLICY
from visits.assignment import assign_visits
from visits.event_store import event_store_maintain
from visits.generation import generate_due_visits
from visits.generation_sql import account_ranges

logger = logging.getLogger(__name__)


@shared_task(name="visits.tasks.generate_due_visits_task", **RETRY_POLICY)
def generate_due_visits_task():
    created = generate_due_visits()
    logger.info("generate_due_visits_task", extra={"visits_created": created})
    return created


@shared_task(name="visits.tasks.assign_visits_task", **RETRY_POLICY)
def assign_visits_task():
    assigned = assign_visits()
    logger.info("assign_visits_task", extra={"assigned": assigned})
    return assigned


@shared_task(name="visits.tasks.event_store_maintain_task", **RETRY_POLICY)
def event_store_maintain_task():
    counts = event_store_maintain()
    logger.info("event_store_maintain_task", extra=counts)
    return counts


@shared_task(name="visits.tasks.generate_due_visits_range_task", **RETRY_POLICY)
def generate_due_visits_range_task(lo: int, hi: int, now: str | None = None):
    """Generation for the accounts with lo < id <= hi (one part of a split run)."""
    at = datetime.fromisoformat(now) if now else None
    created = generate_due_visits(now=at, id_range=(lo, hi))
    logger.info(
        "generate_due_visits_range_task", extra={"range": [lo, hi], "visits_created": created}
    )
    return created


@shared_task(name="visits.tasks.generate_due_visits_split_task", **RETRY_POLICY)
def generate_due_visits_split_task(parts: int = 8):
    """Generation split into ``parts`` account ranges, one task each, for several workers."""
    now = timezone.now().isoformat()
    ranges = account_ranges(parts)
    for lo, hi in ranges:
        generate_due_visits_range_task.delay(lo, hi, now)
    return len(ranges)
