"""The visit transition table, cell by cell: every status change it lists happens, every other
one is refused and leaves the row as it was, one visit at a time or set-based."""

import datetime as dt
import itertools

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from tests.factories import VisitFactory
from visits.models import Visit, VisitStatus
from visits.transitions import (
    TRANSITIONS,
    VisitTransitionError,
    visit_transition,
    visits_transition,
)

pytestmark = pytest.mark.django_db

PEND, ASGN, PROG, DONE, UNRE, CANC = (
    VisitStatus.PENDING,
    VisitStatus.ASSIGNED,
    VisitStatus.IN_PROGRESS,
    VisitStatus.COMPLETED,
    VisitStatus.UNREACHABLE,
    VisitStatus.CANCELLED,
)
# Written out here rather than read from the table, so that a change of the table shows up.
ALLOWED = {
    (PEND, ASGN), (PEND, PROG), (PEND, DONE), (PEND, UNRE), (PEND, CANC),
    (ASGN, PEND), (ASGN, PROG), (ASGN, DONE), (ASGN, UNRE), (ASGN, CANC),
    (PROG, PROG), (PROG, DONE), (PROG, UNRE), (PROG, CANC),
}  # fmt: skip
PAIRS = list(itertools.product(VisitStatus.values, repeat=2))


def _visit_in(status, agent):
    held = status in (ASGN, PROG)
    return VisitFactory(
        status=status,
        assigned_to=agent if held else None,
        assigned_at=timezone.now() if held else None,
        callback_at=timezone.now() + dt.timedelta(hours=2) if held else None,
    )


def _row(visit):
    return model_to_dict(Visit.objects.get(pk=visit.pk)) | {
        "updated_at": Visit.objects.get(pk=visit.pk).updated_at
    }


def test_the_table_is_the_one_the_tests_expect():
    listed = {(f, t) for f, targets in TRANSITIONS.items() for t in targets}
    assert listed == ALLOWED
    assert set(TRANSITIONS) == set(VisitStatus.values)


@pytest.mark.parametrize(("from_status", "to_status"), PAIRS)
def test_it_allows_only_the_listed_changes_of_one_visit(from_status, to_status, agent):
    visit = _visit_in(from_status, agent)
    before = _row(visit)
    if (from_status, to_status) in ALLOWED:
        visit_transition(visit=visit, to=to_status, by=agent, reason="原因")
        assert Visit.objects.get(pk=visit.pk).status == to_status
        assert visit.status == to_status
    else:
        with pytest.raises(VisitTransitionError) as refused:
            visit_transition(visit=visit, to=to_status, by=agent, reason="原因")
        assert "回访状态不能从" in refused.value.message
        assert _row(visit) == before  # a refused change leaves the row unchanged


@pytest.mark.parametrize(("from_status", "to_status"), PAIRS)
def test_it_changes_only_the_rows_whose_status_allows_it(from_status, to_status, agent):
    visit = _visit_in(from_status, agent)
    bystander = _visit_in(from_status, agent)
    before, bystander_before = _row(visit), _row(bystander)
    changed = visits_transition(
        Visit.objects.filter(pk=visit.pk), to=to_status, assigned_to=agent, reason="原因"
    )
    if (from_status, to_status) in ALLOWED:
        assert changed == 1
        assert Visit.objects.get(pk=visit.pk).status == to_status
    else:
        assert changed == 0
        assert _row(visit) == before
    assert _row(bystander) == bystander_before


def test_completing_stamps_the_time_clears_the_call_back_and_keeps_the_holder(agent, other_agent):
    visit = _visit_in(PROG, agent)
    now = timezone.now()
    visit_transition(visit=visit, to=DONE, by=other_agent, now=now)
    row = Visit.objects.get(pk=visit.pk)
    assert (row.completed_at, row.callback_at, row.assigned_to) == (now, None, agent)
    unassigned = _visit_in(PEND, None)
    visit_transition(visit=unassigned, to=DONE, by=agent, now=now)
    assert Visit.objects.get(pk=unassigned.pk).assigned_to == agent


def test_the_reason_goes_with_unreachable_and_cancelled(agent):
    gone, cancelled = _visit_in(PROG, agent), _visit_in(PEND, None)
    visit_transition(visit=gone, to=UNRE, reason="三次未接通")
    visits_transition(Visit.objects.filter(pk=cancelled.pk), to=CANC, reason="账户已销户")
    gone.refresh_from_db()
    cancelled.refresh_from_db()
    assert (gone.unreachable_reason, gone.callback_at) == ("三次未接通", None)
    assert cancelled.cancelled_reason == "账户已销户"


def test_back_to_the_pool_drops_the_agent(agent):
    visit = _visit_in(ASGN, agent)
    assert visits_transition(Visit.objects.filter(pk=visit.pk), to=PEND) == 1
    visit.refresh_from_db()
    assert (visit.status, visit.assigned_to, visit.assigned_at) == (PEND, None, None)


def test_an_assigned_or_worked_visit_needs_an_agent():
    visit = _visit_in(PEND, None)
    for to in (ASGN, PROG):
        with pytest.raises(VisitTransitionError):
            visit_transition(visit=visit, to=to)
        with pytest.raises(VisitTransitionError):
            visits_transition(Visit.objects.filter(pk=visit.pk), to=to)
    assert Visit.objects.get(pk=visit.pk).status == PEND


def test_a_visit_changed_meanwhile_is_not_overwritten(agent):
    visit = _visit_in(PEND, None)
    stale = Visit.objects.get(pk=visit.pk)
    visits_transition(Visit.objects.filter(pk=visit.pk), to=CANC, reason="账户已销户")
    with pytest.raises(VisitTransitionError):
        visit_transition(visit=stale, to=ASGN, by=agent)
    row = Visit.objects.get(pk=visit.pk)
    assert (row.status, row.assigned_to) == (CANC, None)


def test_the_caller_s_fields_are_written_in_the_same_update(agent):
    visit = _visit_in(ASGN, agent)
    visit.phone_attempts = 3
    visit_transition(visit=visit, to=PROG, by=agent, fields=["phone_attempts"])
    row = Visit.objects.get(pk=visit.pk)
    assert (row.status, row.phone_attempts) == (PROG, 3)
