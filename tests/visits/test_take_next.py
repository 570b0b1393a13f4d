"""Take next: the most urgent visit the agent may work, even when the assigner has already
handed out every visit."""

import datetime as dt

import pytest
import time_machine

from workspace.services import attempt_log, visit_claim_next

from .workspace_helpers import CALL_TIME, open_visit

pytestmark = [pytest.mark.django_db, pytest.mark.spec("5.worklist")]


@pytest.fixture(autouse=True)
def _at_call_time():
    with time_machine.travel(CALL_TIME, tick=False):
        yield


def test_it_gives_suspected_fraud_before_the_agents_own_overdue_visits(agent, branch):
    open_visit(branch, agent=agent, due_at=CALL_TIME - dt.timedelta(days=2))
    fraud = open_visit(branch, suspected_fraud=True, due_at=CALL_TIME + dt.timedelta(days=1))
    assert visit_claim_next(agent=agent) == fraud
    fraud.refresh_from_db()
    assert (fraud.status, fraud.assigned_to) == ("assigned", agent)


def test_it_gives_the_agents_own_visits_by_due_time_before_unassigned_ones(agent, branch):
    open_visit(branch, due_at=CALL_TIME - dt.timedelta(days=5), priority=99)
    later = open_visit(branch, agent=agent, due_at=CALL_TIME + dt.timedelta(days=3))
    sooner = open_visit(branch, agent=agent, due_at=CALL_TIME + dt.timedelta(hours=3))
    assert visit_claim_next(agent=agent) == sooner
    attempt_log(visit=sooner, agent=agent, outcome="busy")  # tried today: next one
    assert visit_claim_next(agent=agent) == later


def test_it_takes_an_unassigned_visit_of_the_branch_once_the_agents_own_are_worked(
    agent, other_agent, branch
):
    own = open_visit(branch, agent=agent)
    open_visit(branch, agent=other_agent, due_at=CALL_TIME - dt.timedelta(days=1))
    pool = open_visit(branch)
    attempt_log(visit=own, agent=agent, outcome="no_answer")
    assert visit_claim_next(agent=agent) == pool


def test_it_leaves_a_call_back_appointment_until_its_time(agent, branch):
    waiting = open_visit(branch, agent=agent, status="in_progress")
    waiting.callback_at = CALL_TIME + dt.timedelta(hours=4)
    waiting.save(update_fields=["callback_at"])
    assert visit_claim_next(agent=agent) is None
