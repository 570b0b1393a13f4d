"""Scheduled jobs of visits: generation and assignment. Thin: each calls a service and is safe
to run twice (see the services)."""

import logging

from celery import shared_task

from core.tasks import RETRY_POLICY
from visits.assignment import assign_visits
from visits.event_store import event_store_maintain
from visits.generation import generate_due_visits

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
