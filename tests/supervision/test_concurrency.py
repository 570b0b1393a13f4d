"""Two workers at once (PostgreSQL): one review per sampled record, one draft per supervisor
and month, one assessment per agent and month."""

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from supervision.assessment import AssessmentFrozen, assessment_compute
from supervision.models import AuditReview, AuditSample, MonthlyAssessment
from supervision.reviews import review_submit
from supervision.sampling import monthly_samples_draft, sample_draw

from .conftest import at, make_record

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CHECKS = dict.fromkeys(
    ("record_complete", "identity_stated", "script_followed", "reminders_given"), "yes"
) | {"handled_in_time": "na"}


def race(fn, n=2):
    """Runs fn in n threads released together; returns their results or exceptions."""
    barrier = threading.Barrier(n)
    results = []

    def run():
        barrier.wait()
        try:
            results.append(fn())
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.spec("8.review")
def test_two_reviewers_of_one_record_make_one_review(branch, agent, supervisor):
    make_record(agent=agent, branch=branch, submitted_at=at(2026, 10, 3))
    sample = sample_draw(
        period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 10, 31), rate="1", seed=1,
        by=supervisor,
    )  # fmt: skip
    item = sample.items.get()
    results = race(
        lambda: review_submit(
            item=item, reviewer=supervisor, checklist=CHECKS, score=50, findings="x"
        )
    )
    assert sum(isinstance(r, AuditReview) for r in results) == 1
    assert sum(isinstance(r, ValidationError) for r in results) == 1
    assert AuditReview.objects.count() == 1


@pytest.mark.spec("8.sampling")
def test_two_beat_workers_draft_one_sample(branch, agent, supervisor):
    make_record(agent=agent, branch=branch, submitted_at=at(2026, 10, 3))
    results = race(lambda: monthly_samples_draft(today=dt.date(2026, 11, 1)))
    assert sorted(results) == [0, 1]
    assert AuditSample.objects.filter(scheduled=True).count() == 1


@pytest.mark.spec("8.sampling")
def test_the_draw_is_the_same_on_postgresql(branch, agent_factory, supervisor):
    for n in range(30):
        make_record(agent=agent_factory(), branch=branch, submitted_at=at(2026, 10, 1 + n % 28))
    first = sample_draw(
        period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 10, 31), size=5, seed=77,
        by=supervisor,
    )  # fmt: skip
    again = sample_draw(
        period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 10, 31), size=5, seed=77,
        by=supervisor,
    )  # fmt: skip
    ids = sorted(first.items.values_list("record_id", flat=True))
    assert ids == sorted(again.items.values_list("record_id", flat=True))
    assert len(ids) == 30  # every agent has one record: the minimum wins over size=5


@pytest.mark.spec("5.assessment")
def test_two_workers_compute_a_month_once(branch, agent):
    make_record(agent=agent, branch=branch, submitted_at=at(2026, 10, 3), satisfaction=4)
    results = race(lambda: assessment_compute(month=dt.date(2026, 10, 1), now=at(2026, 11, 2)))
    assert sum(isinstance(r, int) for r in results) >= 1
    assert all(isinstance(r, int | AssessmentFrozen) for r in results)
    assert MonthlyAssessment.objects.filter(agent=agent).count() == 1
