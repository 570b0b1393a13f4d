"""The checklist's stored booleans become answers: true -> yes, false -> no (and back)."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from supervision.reviews import review_submit
from supervision.sampling import sample_draw

from .conftest import at, make_record

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.spec("8.review")]

BEFORE = ("supervision", "0007_complaint_contact_phone_encrypted")
CHECKLIST = (
    "record_complete",
    "identity_stated",
    "script_followed",
    "reminders_given",
    "handled_in_time",
    "escalation_justified",
)


def _stored(review_pk):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(CHECKLIST)} FROM supervision_auditreview WHERE id = %s",
            [review_pk],
        )
        return cursor.fetchone()


def test_it_converts_the_stored_checklist_both_ways(branch, agent, supervisor):
    make_record(agent=agent, branch=branch, submitted_at=at(2026, 10, 3))
    sample = sample_draw(
        period_start=dt.date(2026, 10, 1),
        period_end=dt.date(2026, 10, 31),
        rate="1",
        seed=5,
        by=supervisor,
    )
    answers = {
        "record_complete": "yes",
        "identity_stated": "no",
        "script_followed": "unassessed",
        "reminders_given": "yes",
        "handled_in_time": "na",
    }
    review = review_submit(
        item=sample.items.get(), reviewer=supervisor, checklist=answers, score=60
    )
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate([BEFORE])
        # Only "yes" was a yes: everything else was stored as false.
        assert [bool(v) for v in _stored(review.pk)] == [True, False, False, True, False, False]
        executor.loader.build_graph()
        executor.migrate(leaves)
        assert _stored(review.pk) == ("yes", "no", "no", "yes", "no", "no")
    finally:
        executor.loader.build_graph()
        executor.migrate(leaves)
