"""Audit sampling (SPEC §8): reproducible, stratified per agent, never the supervisor's work."""

import datetime as dt
from collections import Counter

import pytest

from accounts.models import Role
from accounts.services import staff_create
from supervision.models import AuditSample, SampleStatus
from supervision.sampling import monthly_samples_draft, sample_draw, sample_redraw, sample_verify
from tests.fixtures import PASSWORD

from .conftest import at, make_record

pytestmark = [pytest.mark.django_db, pytest.mark.spec("8.sampling", clause="十.1")]

OCT_1, OCT_31 = dt.date(2026, 10, 1), dt.date(2026, 10, 31)


@pytest.fixture
def october(branch, agent_factory):
    """Three agents: one busy (40 records), two with 3 and 1 records; plus records outside the
    period that must never be drawn."""
    busy, small, tiny = agent_factory("busy"), agent_factory("small"), agent_factory("tiny")
    records = {busy: [], small: [], tiny: []}
    for n in range(40):
        records[busy].append(
            make_record(agent=busy, branch=branch, submitted_at=at(2026, 10, 1 + n % 30, 9 + n % 8))
        )
    for n in range(3):
        records[small].append(
            make_record(agent=small, branch=branch, submitted_at=at(2026, 10, 5 + n))
        )
    records[tiny].append(
        make_record(agent=tiny, branch=branch, submitted_at=at(2026, 10, 31, 23, 30))
    )
    make_record(agent=busy, branch=branch, submitted_at=at(2026, 9, 30, 23, 59))
    make_record(agent=busy, branch=branch, submitted_at=at(2026, 11, 1, 0, 0))
    return records


def ids(sample):
    return sorted(sample.items.values_list("record_id", flat=True))


def test_it_draws_the_same_sample_from_the_same_seed(october, supervisor):
    first = sample_draw(period_start=OCT_1, period_end=OCT_31, rate="0.2", seed=1234, by=supervisor)
    second = sample_draw(
        period_start=OCT_1, period_end=OCT_31, rate="0.2", seed=1234, by=supervisor
    )
    assert ids(first) == ids(second)
    assert len(ids(first)) == 9  # ceil(44 * 0.2)
    assert first.seed == 1234 and first.status == SampleStatus.OPEN
    assert sample_redraw(first) == ids(first)
    assert sample_verify(first)


def test_it_draws_a_different_sample_from_a_different_seed(october, supervisor):
    first = sample_draw(period_start=OCT_1, period_end=OCT_31, rate="0.2", seed=1, by=supervisor)
    second = sample_draw(period_start=OCT_1, period_end=OCT_31, rate="0.2", seed=2, by=supervisor)
    assert ids(first) != ids(second)
    assert len(ids(first)) == len(ids(second)) == 9


def test_it_stores_a_random_seed_when_none_is_given(october, supervisor):
    sample = sample_draw(period_start=OCT_1, period_end=OCT_31, by=supervisor)
    assert sample.seed is not None
    assert sample_verify(sample)


def test_it_detects_a_tampered_sample(october, supervisor):
    sample = sample_draw(period_start=OCT_1, period_end=OCT_31, rate="0.2", seed=7, by=supervisor)
    item = sample.items.order_by("pk").first()
    drawn = set(ids(sample))
    other = next(r for r in october[next(iter(october))] if r.pk not in drawn)
    item.record = other
    item.save()
    assert not sample_verify(sample)


def test_it_gives_every_agent_with_records_at_least_one(october, supervisor):
    # 5 % of 44 is 3 records: the minimum per agent still holds, with the busy agent present.
    for seed in range(20):
        sample = sample_draw(period_start=OCT_1, period_end=OCT_31, seed=seed, by=supervisor)
        per_agent = Counter(sample.items.values_list("agent__username", flat=True))
        assert set(per_agent) == {"busy", "small", "tiny"}, seed
        assert sum(per_agent.values()) == 3


def test_it_grows_a_too_small_size_to_one_per_agent(october, supervisor):
    sample = sample_draw(period_start=OCT_1, period_end=OCT_31, size=1, seed=3, by=supervisor)
    assert sample.items.count() == 3
    assert sample.items.values("agent").distinct().count() == 3


def test_it_draws_only_inside_the_period(october, supervisor):
    everything = sample_draw(period_start=OCT_1, period_end=OCT_31, rate="1", seed=5, by=supervisor)
    expected = sorted(r.pk for rs in october.values() for r in rs)
    assert ids(everything) == expected  # 44: not the 30 Sep 23:59 or 1 Nov 00:00 records


def test_it_never_samples_the_supervisors_own_work(branch, supervisor, agent_factory):
    agent = agent_factory("worker")
    own = [
        make_record(agent=supervisor, branch=branch, submitted_at=at(2026, 10, d)) for d in (2, 3)
    ]
    theirs = make_record(agent=agent, branch=branch, submitted_at=at(2026, 10, 4))
    sample = sample_draw(period_start=OCT_1, period_end=OCT_31, rate="1", seed=9, by=supervisor)
    assert ids(sample) == [theirs.pk]
    assert not {r.pk for r in own} & set(ids(sample))


def test_it_stays_inside_the_supervisors_branches(branch, other_branch, supervisor, agent_factory):
    here = make_record(agent=agent_factory("here"), branch=branch, submitted_at=at(2026, 10, 4))
    make_record(
        agent=agent_factory("there", other_branch),
        branch=other_branch,
        submitted_at=at(2026, 10, 4),
    )
    sample = sample_draw(period_start=OCT_1, period_end=OCT_31, rate="1", seed=9, by=supervisor)
    assert ids(sample) == [here.pk]


def test_it_draws_within_the_scope(october, supervisor):
    small = next(a for a in october if a.username == "small")
    sample = sample_draw(
        period_start=OCT_1,
        period_end=OCT_31,
        scope={"agents": [small.pk], "kinds": ["periodic"], "channels": ["phone"]},
        rate="1",
        seed=4,
        by=supervisor,
    )
    assert ids(sample) == sorted(r.pk for r in october[small])
    assert sample.scope == {"agents": [small.pk], "channels": ["phone"], "kinds": ["periodic"]}
    outside = sample_draw(
        period_start=OCT_1,
        period_end=OCT_31,
        scope={"kinds": ["new_account"]},
        seed=4,
        by=supervisor,
    )
    assert outside.items.count() == 0


def test_it_refuses_bad_parameters(supervisor):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        sample_draw(period_start=OCT_31, period_end=OCT_1, by=supervisor)
    assert "period_end" in exc.value.error_dict
    with pytest.raises(ValidationError) as exc:
        sample_draw(period_start=OCT_1, period_end=OCT_31, rate="0.1", size=3, by=supervisor)
    assert "size" in exc.value.error_dict
    with pytest.raises(ValidationError) as exc:
        sample_draw(period_start=OCT_1, period_end=OCT_31, rate="1.5", by=supervisor)
    assert "rate" in exc.value.error_dict
    assert not AuditSample.objects.exists()


def test_it_drafts_one_sample_per_supervisor_on_the_first(october, supervisor, branch):
    second = staff_create(
        username="super2", password=PASSWORD, role=Role.SUPERVISOR, branches=[branch]
    )
    assert monthly_samples_draft(today=dt.date(2026, 11, 1)) == 2
    assert monthly_samples_draft(today=dt.date(2026, 11, 1)) == 0  # run twice: nothing more
    drafts = AuditSample.objects.filter(scheduled=True)
    assert {s.created_by for s in drafts} == {supervisor, second}
    for sample in drafts:
        assert (sample.period_start, sample.period_end) == (OCT_1, OCT_31)
        assert sample.status == SampleStatus.DRAFT
        assert sample.items.values("agent").distinct().count() == 3
        assert sample_verify(sample)


def test_it_seeds_the_beat_schedules():
    from django_celery_beat.models import PeriodicTask

    draft = PeriodicTask.objects.get(name="supervision.draft_monthly_samples")
    assert draft.task == "supervision.tasks.draft_monthly_samples_task"
    assert (draft.crontab.day_of_month, draft.crontab.hour) == ("1", "1")
    compute = PeriodicTask.objects.get(name="supervision.compute_monthly_assessment")
    assert (compute.crontab.day_of_month, compute.crontab.hour) == ("2", "2")
