"""The agent's worklist: order, filters, counts, appointments, a constant query budget, and
"next visit" claiming atomically."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from accounts.permissions import grant_branch
from accounts.services import staff_create
from tests.factories import BranchFactory
from tests.fixtures import PASSWORD
from visits.models import Visit
from workspace.services import attempt_log, visit_claim_next

from .workspace_helpers import CALL_TIME, open_visit

pytestmark = [pytest.mark.django_db, pytest.mark.spec("4.assignment")]


def _listed(response) -> list[int]:
    return [v.pk for v in response.context["page"].object_list]


@time_machine.travel(CALL_TIME, tick=False)
def test_it_lists_overdue_first_then_priority_and_due_time(client, agent, branch):
    now = CALL_TIME
    later_low = open_visit(branch, agent=agent, due_at=now + dt.timedelta(hours=5), priority=10)
    later_high = open_visit(branch, agent=agent, due_at=now + dt.timedelta(hours=9), priority=90)
    soon_high = open_visit(branch, agent=agent, due_at=now + dt.timedelta(hours=1), priority=90)
    overdue_low = open_visit(branch, agent=agent, due_at=now - dt.timedelta(days=1), priority=10)
    overdue_high = open_visit(branch, agent=agent, due_at=now - dt.timedelta(hours=1), priority=80)
    client.force_login(agent)
    response = client.get(reverse("workspace:worklist"))
    assert response.status_code == 200
    assert _listed(response) == [
        overdue_high.pk,
        overdue_low.pk,
        soon_high.pk,
        later_high.pk,
        later_low.pk,
    ]


@time_machine.travel(CALL_TIME, tick=False)
def test_it_shows_only_the_agents_own_open_visits(client, agent, other_agent, branch, other_branch):
    mine = open_visit(branch, agent=agent)
    open_visit(branch, agent=None)  # unassigned: reached through "next visit"
    open_visit(branch, agent=agent, status="completed")
    open_visit(other_branch, agent=other_agent)
    client.force_login(agent)
    assert _listed(client.get(reverse("workspace:worklist"))) == [mine.pk]
    client.force_login(other_agent)
    response = client.get(reverse("workspace:worklist"))
    assert mine.pk not in _listed(response)
    assert mine.account.masked_number not in response.content.decode()


@time_machine.travel(CALL_TIME, tick=False)
def test_it_filters_by_kind_status_and_branch(client, agent, branch):
    branch2 = BranchFactory(code="BJ002", name="北京西城支行")
    grant_branch(agent, branch2)
    periodic = open_visit(branch, agent=agent, kind="periodic")
    special = open_visit(branch, agent=agent, kind="special_event", status="in_progress")
    elsewhere = open_visit(branch2, agent=agent, kind="periodic")
    client.force_login(agent)
    url = reverse("workspace:worklist")
    assert _listed(client.get(url, {"kind": "special_event"})) == [special.pk]
    assert _listed(client.get(url, {"status": "in_progress"})) == [special.pk]
    assert sorted(_listed(client.get(url, {"branch": branch2.pk}))) == [elsewhere.pk]
    assert sorted(_listed(client.get(url, {"kind": "periodic"}))) == sorted(
        [periodic.pk, elsewhere.pk]
    )


@time_machine.travel(CALL_TIME, tick=False)
def test_bad_filters_and_pages_still_show_the_worklist(client, agent, branch):
    visit = open_visit(branch, agent=agent)
    client.force_login(agent)
    url = reverse("workspace:worklist")
    for query in ({"page": "abc"}, {"page": "999"}, {"page": "-1"}, {"kind": "nope"},
                  {"branch": "'; DROP TABLE visits_visit; --"}, {"status": "completed"}):  # fmt: skip
        response = client.get(url, query)
        assert response.status_code == 200, query
    # An invalid filter is ignored (the form shows its error), a page past the end is the last.
    assert _listed(client.get(url, {"kind": "nope"})) == [visit.pk]
    assert _listed(client.get(url, {"page": "999"})) == [visit.pk]


@time_machine.travel(CALL_TIME, tick=False)
def test_an_agent_with_no_branch_in_scope_has_an_empty_worklist(client, branch):
    nobody = staff_create(username="nobranch", password=PASSWORD, role=Role.AGENT)
    open_visit(branch, agent=nobody)  # assigned, but outside the agent's scope
    client.force_login(nobody)
    response = client.get(reverse("workspace:worklist"))
    assert response.status_code == 200
    assert _listed(response) == [] and response.context["appointments"] == []
    assert response.context["counts"] == {"open": 0, "listed": 0, "overdue": 0, "due_today": 0}


@time_machine.travel(CALL_TIME, tick=False)
def test_it_counts_overdue_due_today_and_open(client, agent, branch):
    open_visit(branch, agent=agent, due_at=CALL_TIME - dt.timedelta(days=2))
    open_visit(branch, agent=agent, due_at=CALL_TIME + dt.timedelta(hours=3))
    open_visit(branch, agent=agent, due_at=CALL_TIME + dt.timedelta(hours=4))
    open_visit(branch, agent=agent, due_at=CALL_TIME + dt.timedelta(days=3))
    client.force_login(agent)
    counts = client.get(reverse("workspace:worklist")).context["counts"]
    assert (counts["overdue"], counts["due_today"], counts["open"]) == (1, 2, 4)


def test_it_shows_call_back_appointments_at_their_time(client, agent, branch):
    with time_machine.travel(CALL_TIME, tick=False):
        normal = open_visit(branch, agent=agent, due_at=CALL_TIME - dt.timedelta(hours=1))
        appointment = open_visit(
            branch, agent=agent, status="in_progress", due_at=CALL_TIME + dt.timedelta(days=1),
            callback_at=CALL_TIME + dt.timedelta(hours=3),
        )  # fmt: skip
        client.force_login(agent)
        response = client.get(reverse("workspace:worklist"))
        assert _listed(response) == [normal.pk]
        assert [v.pk for v in response.context["appointments"]] == [appointment.pk]
    # 10 minutes before the appointment it joins the list, ahead of everything else.
    with time_machine.travel(CALL_TIME + dt.timedelta(hours=2, minutes=50), tick=False):
        client.force_login(agent)
        response = client.get(reverse("workspace:worklist"))
        assert _listed(response) == [appointment.pk, normal.pk]
        assert response.context["appointments"] == []


@time_machine.travel(CALL_TIME, tick=False)
def test_it_keeps_a_constant_number_of_queries(client, agent, branch, django_assert_num_queries):
    """Queries, whatever the number of visits: 1 session, 2 user with their staff profile (role);
    3 the branch and department scope (one statement, once per request); 4 the branches
    themselves (the branch filter); 5 the counts (one aggregate); 6 the page of visits (joined
    with account, customer and branch); 7 unread notifications (menu); 8 the appointments
    block, only when the counts show some; 9-11 savepoint, session refresh, release
    (SESSION_SAVE_EVERY_REQUEST)."""
    client.force_login(agent)

    def measure() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("workspace:worklist")).status_code == 200
        return len(ctx.captured_queries)

    measure()  # warm the content-type cache that guardian reads once per process
    for _ in range(5):
        open_visit(branch, agent=agent)
    assert measure() == WORKLIST_QUERIES - 1  # no appointment: the block is not read
    open_visit(branch, agent=agent, callback_at=CALL_TIME + dt.timedelta(hours=5))
    small = measure()
    for _ in range(44):
        open_visit(branch, agent=agent, callback_at=CALL_TIME + dt.timedelta(hours=5))
        open_visit(branch, agent=agent)
    open_visit(branch, agent=agent)
    assert Visit.objects.filter(assigned_to=agent).count() == 95
    with django_assert_num_queries(small):
        response = client.get(reverse("workspace:worklist"))
    assert len(response.context["page"].object_list) == 50
    assert len(response.context["appointments"]) == 20
    assert small == WORKLIST_QUERIES


WORKLIST_QUERIES = 11


@time_machine.travel(CALL_TIME, tick=False)
def test_it_claims_the_top_unassigned_visit_of_the_agents_branches(
    client, agent, branch, other_branch
):
    later = open_visit(branch, due_at=CALL_TIME + dt.timedelta(hours=2), priority=99)
    overdue_low = open_visit(branch, due_at=CALL_TIME - dt.timedelta(hours=1), priority=10)
    overdue_high = open_visit(branch, due_at=CALL_TIME - dt.timedelta(minutes=5), priority=70)
    open_visit(other_branch, due_at=CALL_TIME - dt.timedelta(days=9), priority=99)
    client.force_login(agent)
    response = client.post(reverse("workspace:claim_next"))
    assert response.status_code == 302
    assert response["Location"] == reverse("workspace:call_screen", args=[overdue_high.pk])
    overdue_high.refresh_from_db()
    assert (overdue_high.status, overdue_high.assigned_to) == ("assigned", agent)
    # Until it has been called today, the claimed visit stays the agent's next one.
    assert visit_claim_next(agent=agent) == overdue_high
    attempt_log(visit=overdue_high, agent=agent, outcome="no_answer")
    assert visit_claim_next(agent=agent) == overdue_low
    attempt_log(visit=overdue_low, agent=agent, outcome="no_answer")
    assert visit_claim_next(agent=agent) == later
    attempt_log(visit=later, agent=agent, outcome="no_answer")
    assert visit_claim_next(agent=agent) is None  # the Shanghai visit is not theirs


def test_it_refuses_next_visit_by_get_and_to_other_roles(client, agent, teller, branch):
    open_visit(branch)
    client.force_login(agent)
    response = client.get(reverse("workspace:claim_next"))  # a form address: back to its page
    assert (response.status_code, response["Location"]) == (302, reverse("workspace:worklist"))
    client.force_login(teller)
    assert client.post(reverse("workspace:claim_next")).status_code == 403
    assert not Visit.objects.filter(assigned_to__isnull=False).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_never_gives_one_visit_to_two_agents(branch):
    agents = [
        staff_create(username=f"a{i}", password=PASSWORD, role=Role.AGENT, branches=[branch])
        for i in range(6)
    ]
    for i in range(4):
        open_visit(branch, priority=50 + i)
    barrier = threading.Barrier(len(agents))
    claimed, errors = [], []

    def work(agent):
        from django.db import connection as conn

        try:
            barrier.wait()
            visit = visit_claim_next(agent=agent)
            claimed.append(visit.pk if visit else None)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=work, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = [pk for pk in claimed if pk]
    assert len(got) == 4 and len(set(got)) == 4
    assert claimed.count(None) == 2
    assert Visit.objects.filter(status="assigned").count() == 4


@time_machine.travel(CALL_TIME, tick=False)
def test_it_does_not_give_a_visit_needing_a_certification_to_an_agent_without_it(agent, branch):
    from accounts.models import Certification, StaffCertification
    from visits.models import VisitPolicy

    wealth = Certification.objects.create(code="wealth", name="理财资质")
    policy = VisitPolicy.objects.create(
        kind="periodic", account_type="special", risk_level="medium", due_unit="cycle_months",
        due_amount=6, is_active=False,
        required_certification=wealth,
    )  # fmt: skip
    needs_it = open_visit(branch, policy=policy, priority=99)
    plain = open_visit(branch, priority=10)
    assert visit_claim_next(agent=agent) == plain
    attempt_log(visit=plain, agent=agent, outcome="no_answer")
    assert visit_claim_next(agent=agent) is None
    StaffCertification.objects.create(profile=agent.profile, certification=wealth)
    assert visit_claim_next(agent=agent) == needs_it
