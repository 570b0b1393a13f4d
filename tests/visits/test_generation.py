"""The scheduled jobs (SPEC §3, §4): new-account and periodic generation exactly once,
assignment by load within the branch, and the fallback ladder."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction

from accounts.models import Certification, Role, StaffCertification
from accounts.services import staff_create
from tests.factories import AccountFactory, CustomerFactory, VisitFactory
from tests.fixtures import PASSWORD
from visits.assignment import assign_visits
from visits.generation import generate_due_visits
from visits.models import ContactAttempt, Visit, VisitPolicy
from visits.periodic_due import merged_buckets
from visits.tasks import assign_visits_task, generate_due_visits_task
from workspace import ladder
from workspace.channels.sms import sms_send_due
from workspace.ladder import retry_unreached
from workspace.tasks import retry_unreached_task

pytestmark = [pytest.mark.django_db]

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)  # Tuesday


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def make(branch, **kwargs):
    customer_kwargs = {k: kwargs.pop(k) for k in ("risk_level", "do_not_contact") if k in kwargs}
    return AccountFactory(customer=CustomerFactory(branch=branch, **customer_kwargs), **kwargs)


def kinds(account):
    return sorted(Visit.objects.filter(account=account).values_list("kind", "status"))


# --- generation -----------------------------------------------------------------------------


@pytest.mark.spec("4.new-account", clause="六.1")
def test_it_creates_the_new_account_visit_due_after_five_business_days(branch, frozen):
    account = make(branch, opened_on=date(2026, 3, 6))  # a Friday
    assert generate_due_visits() == {"new_account": 1, "periodic": 0}
    visit = Visit.objects.get(account=account)
    assert visit.kind == "new_account" and visit.status == "pending"
    assert visit.due_at == datetime(2026, 3, 13, 17, 0, tzinfo=SHANGHAI)
    assert visit.branch_id == branch.pk and visit.policy.kind == "new_account"


@pytest.mark.spec("4.new-account", clause="六.1")
def test_it_never_creates_a_new_account_visit_twice(branch, frozen):
    account = make(branch, opened_on=date(2026, 3, 9))
    generate_due_visits()
    assert generate_due_visits() == {"new_account": 0, "periodic": 0}
    Visit.objects.filter(account=account).update(status="completed", completed_at=NOW)
    assert generate_due_visits()["new_account"] == 0
    assert kinds(account) == [("new_account", "completed")]


@pytest.mark.spec("4.new-account", clause="六.1")
def test_it_skips_closed_do_not_contact_and_long_opened_accounts(branch, frozen):
    closed = make(branch, opened_on=date(2026, 3, 9), status="closed")
    quiet = make(branch, opened_on=date(2026, 3, 9), do_not_contact=True)
    old = make(branch, opened_on=date(2026, 1, 5))  # before the 30-day look-back
    generate_due_visits()
    assert kinds(closed) == kinds(quiet) == kinds(old) == []


@pytest.mark.spec("4.business-calendar")
def test_it_makes_a_provisional_visit_for_a_year_missing_from_the_calendar(branch):
    with time_machine.travel(datetime(2026, 12, 29, 10, 0, tzinfo=SHANGHAI), tick=False):
        early = make(branch, opened_on=date(2026, 12, 21))  # due 2026-12-28: known
        late = make(branch, opened_on=date(2026, 12, 29))  # due in 2027: Monday-Friday
        generate_due_visits()
        assert kinds(early) == [("new_account", "pending")]
        assert kinds(late) == [("new_account", "pending")]
        visit = Visit.objects.get(account=late)
        assert (visit.due_at, visit.due_provisional) == (
            datetime(2027, 1, 5, 17, 0, tzinfo=SHANGHAI),
            True,
        )
        assert Visit.objects.get(account=early).due_provisional is False
        generate_due_visits()  # a second run makes nothing twice
        assert Visit.objects.filter(account=late).count() == 1


@pytest.mark.spec("4.periodic", clause="六.2")
def test_the_cycle_counts_from_the_last_completed_visit(branch, frozen):
    due = make(branch, opened_on=date(2015, 1, 1))
    not_yet = make(branch, opened_on=date(2015, 1, 1))
    for account, completed in (
        (due, datetime(2025, 4, 9, 11, 0)),
        (not_yet, datetime(2025, 4, 10, 11, 0)),
    ):
        VisitFactory(
            account=account,
            kind="special_event",
            status="completed",
            completed_at=completed.replace(tzinfo=SHANGHAI),
        )
    generate_due_visits()
    visit = Visit.objects.get(account=due, kind="periodic")
    assert visit.due_at == datetime(2026, 4, 9, 17, 0, tzinfo=SHANGHAI)
    assert not Visit.objects.filter(account=not_yet, kind="periodic").exists()


@pytest.mark.spec("4.periodic", clause="六.2")
def test_an_account_never_visited_is_due_from_opening_and_overdue(branch, frozen):
    account = make(branch, opened_on=date(2019, 5, 20))
    generate_due_visits()
    visit = Visit.objects.get(account=account, kind="periodic")
    assert visit.due_at == datetime(2020, 5, 20, 17, 0, tzinfo=SHANGHAI)
    assert visit.is_overdue()


@pytest.mark.spec("4.periodic", clause="六.2")
def test_a_periodic_visit_given_up_as_unreachable_is_not_regenerated_at_once(branch, frozen):
    account = make(branch, opened_on=date(2019, 5, 20))
    generate_due_visits()
    Visit.objects.filter(account=account).update(status="unreachable")
    assert generate_due_visits()["periodic"] == 0
    frozen.move_to(datetime(2027, 2, 20, 10, 0, tzinfo=SHANGHAI))  # 12 months minus horizon
    assert generate_due_visits()["periodic"] == 1


@pytest.mark.spec("4.one-open-visit")
def test_a_second_run_creates_nothing_and_the_database_refuses_a_second_open_visit(branch, frozen):
    accounts = [make(branch, opened_on=date(2020, 1, 1)) for _ in range(5)]
    assert generate_due_visits() == {"new_account": 0, "periodic": 5}
    assert generate_due_visits() == {"new_account": 0, "periodic": 0}
    with pytest.raises(IntegrityError), transaction.atomic():
        Visit.objects.create(account=accounts[0], branch=branch, kind="periodic", due_at=NOW)


@pytest.mark.spec("4.generation-scale")
def test_it_inserts_the_due_set_in_chunks(branch, frozen, settings):
    settings.CALLBACK = {**settings.CALLBACK, "GENERATION_CHUNK_SIZE": 2}
    # Account ids far apart, as after deletions: buckets of 2 ids hold one due account each.
    accounts = [make(branch, opened_on=date(2020, 1, 1), pk=1000 + 97 * i) for i in range(7)]
    inserts = []

    def wrapper(execute, sql, params, many, context):
        if sql.lstrip().startswith("INSERT INTO visits_visit"):
            inserts.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        assert generate_due_visits()["periodic"] == 7
    assert {v.account_id for v in Visit.objects.all()} == {a.pk for a in accounts}
    # The new-account statement, then 2 + 2 + 2 + 1 due accounts: 4 chunks, not 7.
    assert len(inserts) == 1 + 4


def test_due_buckets_are_joined_into_chunks_of_at_most_the_chunk_size():
    buckets = [
        (0, 1, "{1}", "[[1]]"),
        (3, 2, "{7,8}", "[[7],[8]]"),
        (9, 1, "{20}", "[[20]]"),
        (12, 3, "{25,26,27}", "[[25],[26],[27]]"),
        (13, 1, "{30}", "[[30]]"),
    ]
    assert list(merged_buckets(buckets, 3)) == [
        ("{1,7,8}", "[[1],[7],[8]]"),
        ("{20}", "[[20]]"),
        ("{25,26,27}", "[[25],[26],[27]]"),
        ("{30}", "[[30]]"),
    ]
    assert buckets == []


@pytest.mark.spec("4.generation-scale")
def test_the_task_runs_the_job(branch, frozen):
    make(branch, opened_on=date(2020, 1, 1))
    assert generate_due_visits_task.delay().get() == {"new_account": 0, "periodic": 1}


# --- assignment -----------------------------------------------------------------------------


def agent_in(branch, name):
    return staff_create(username=name, password=PASSWORD, role=Role.AGENT, branches=[branch])


def pending(branch, n, **kwargs):
    return [VisitFactory(account=make(branch), **kwargs) for _ in range(n)]


def open_count(user):
    return Visit.objects.filter(assigned_to=user, status__in=["assigned", "in_progress"]).count()


@pytest.mark.spec("4.assignment")
def test_it_gives_visits_to_the_branchs_agents_with_the_fewest_open(
    branch, other_branch, agent, other_agent
):
    second = agent_in(branch, "agent2")
    for visit in pending(branch, 3):
        visit.status, visit.assigned_to = "in_progress", agent
        visit.save()
    new = pending(branch, 5)
    elsewhere = pending(other_branch, 2)
    assert assign_visits() == 7
    assert open_count(second) == 4 and open_count(agent) == 4
    assert {v.assigned_to_id for v in Visit.objects.filter(pk__in=[v.pk for v in elsewhere])} == {
        other_agent.pk
    }
    assert all(v.status == "assigned" for v in Visit.objects.filter(pk__in=[v.pk for v in new]))
    assert assign_visits() == 0


@pytest.mark.spec("4.assignment")
def test_it_skips_absent_agents_and_returns_their_unstarted_visits(branch, agent):
    second = agent_in(branch, "agent2")
    started = pending(branch, 1, status="in_progress", assigned_to=second)[0]
    unstarted = pending(branch, 1, status="assigned", assigned_to=second)[0]
    pending(branch, 2)
    second.profile.is_absent = True
    second.profile.save()
    assert assign_visits() == 3
    unstarted.refresh_from_db()
    started.refresh_from_db()
    assert unstarted.assigned_to == agent
    assert started.assigned_to == second  # already talking to the customer
    assert open_count(agent) == 3


@pytest.mark.spec("5.certification", clause="七.1")
def test_it_gives_certified_visits_only_to_certified_agents(branch, agent):
    certified = agent_in(branch, "wealth1")
    wealth = Certification.objects.create(code="wealth", name="理财资质")
    StaffCertification.objects.create(profile=certified.profile, certification=wealth)
    policy = VisitPolicy.objects.get(kind="periodic", account_type="personal_savings")
    policy.required_certification = wealth
    policy.save()
    needing = pending(branch, 3, policy=policy)
    plain = pending(branch, 1)
    assign_visits()
    assert {Visit.objects.get(pk=v.pk).assigned_to_id for v in needing} == {certified.pk}
    assert Visit.objects.get(pk=plain[0].pk).assigned_to == agent  # the less loaded one
    StaffCertification.objects.filter(profile=certified.profile).update(expires_on=date(2020, 1, 1))
    later = pending(branch, 1, policy=policy)[0]
    assert assign_visits() == 0
    assert Visit.objects.get(pk=later.pk).status == "pending"


@pytest.mark.spec("4.assignment")
def test_the_assign_task_runs_the_job(branch, agent):
    pending(branch, 2)
    assert assign_visits_task.delay().get() == 2


# --- fallback ladder ----------------------------------------------------------------------------


def failed_call(visit, agent, day, outcome):
    """A phone attempt at 10:00 Beijing time on ``day``."""
    ContactAttempt.objects.create(
        visit=visit,
        agent=agent,
        channel="phone",
        outcome=outcome,
        started_at=datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI)
        + timedelta(hours=10),
    )


def failed_calls(visit, agent, *days_and_outcomes):
    for day, outcome in days_and_outcomes:
        failed_call(visit, agent, day, outcome)
    Visit.objects.filter(pk=visit.pk).update(
        status="in_progress", assigned_to=agent, phone_attempts=len(days_and_outcomes)
    )


@pytest.mark.spec("3.fallback")
def test_it_needs_failed_calls_on_three_different_calendar_days(branch, agent):
    same_day, weekend, enough = pending(branch, 3)
    failed_calls(
        same_day,
        agent,
        (date(2026, 3, 2), "no_answer"),
        (date(2026, 3, 2), "busy"),
        (date(2026, 3, 3), "no_answer"),
    )
    failed_calls(
        weekend,
        agent,
        (date(2026, 3, 6), "no_answer"),
        (date(2026, 3, 7), "no_answer"),
        (date(2026, 3, 8), "busy"),
    )  # calls are allowed every day: Friday, Saturday and Sunday are three days
    failed_calls(
        enough,
        agent,
        (date(2026, 3, 2), "no_answer"),
        (date(2026, 3, 4), "busy"),
        (date(2026, 3, 6), "wrong_number"),
    )
    with time_machine.travel(NOW, tick=False):
        counts = retry_unreached()
    assert counts["to_sms"] == 2
    assert [Visit.objects.get(pk=v.pk).channel for v in (same_day, weekend, enough)] == [
        "phone",
        "sms",
        "sms",
    ]


@pytest.mark.spec("3.fallback")
def test_it_walks_phone_then_sms_then_questionnaire_then_unreachable(branch, agent):
    (visit,) = pending(branch, 1)
    failed_calls(
        visit,
        agent,
        (date(2026, 3, 2), "no_answer"),
        (date(2026, 3, 4), "busy"),
        (date(2026, 3, 6), "no_answer"),
    )
    with time_machine.travel(NOW, tick=False):
        assert retry_unreached() == {"to_sms": 1, "to_online": 0, "unreachable": 0}
        assert retry_unreached() == {"to_sms": 0, "to_online": 0, "unreachable": 0}  # no double
        assert sms_send_due() == 1  # the reply wait starts when the SMS is sent
    visit.refresh_from_db()
    assert visit.channel == "sms" and visit.is_open
    assert visit.sms_messages.count() == 1  # queued through the SMS channel
    assert visit.attempts.filter(channel="sms", outcome="sms_sent").count() == 1
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        assert retry_unreached()["to_online"] == 0  # still waiting for a reply
    with time_machine.travel(NOW + timedelta(days=3), tick=False):
        assert retry_unreached()["to_online"] == 1
    visit.refresh_from_db()
    assert visit.channel == "online" and visit.invites.count() == 1
    assert visit.attempts.filter(channel="online", outcome="online_sent").count() == 1
    with time_machine.travel(NOW + timedelta(days=9), tick=False):
        assert retry_unreached()["unreachable"] == 0  # the link is still valid
    with time_machine.travel(NOW + timedelta(days=11), tick=False):
        assert retry_unreached()["unreachable"] == 1
    visit.refresh_from_db()
    assert visit.status == "unreachable"
    lines = visit.unreachable_reason.splitlines()
    assert len(lines) == 5  # three calls, the SMS, the questionnaire
    assert lines[0].startswith("2026-03-02 10:00 电话") and "无人接听" in lines[0]
    assert "占线" in lines[1] and "短信" in lines[3] and "线上问卷" in lines[4]


@pytest.mark.spec("3.fallback")
def test_back_on_the_phone_only_new_failed_calls_count(branch, agent):
    """The customer answered the SMS "2" (details wrong): the visit is back on the phone, and
    the three failed calls from before the SMS do not send it down the ladder again."""
    (visit,) = pending(branch, 1)
    old_calls = ((date(2026, 3, 2), "no_answer"), (date(2026, 3, 4), "busy"))
    failed_calls(visit, agent, *old_calls, (date(2026, 3, 6), "no_answer"))
    with time_machine.travel(NOW, tick=False):
        assert retry_unreached()["to_sms"] == 1
    Visit.objects.filter(pk=visit.pk).update(channel="phone", phone_attempts=0)  # reply "2"
    later = NOW + timedelta(days=1)
    with time_machine.travel(later, tick=False):
        assert retry_unreached()["to_sms"] == 0
    # One new failed call: with the old ones it would make three days, alone it does not.
    failed_call(visit, agent, later.date() + timedelta(days=1), "no_answer")
    Visit.objects.filter(pk=visit.pk).update(phone_attempts=3)
    with time_machine.travel(later + timedelta(days=2), tick=False):
        assert retry_unreached()["to_sms"] == 0
    assert Visit.objects.get(pk=visit.pk).channel == "phone"


@pytest.mark.spec("3.fallback")
def test_a_pending_call_back_appointment_holds_the_ladder(branch, agent):
    (visit,) = pending(branch, 1)
    failed_calls(
        visit,
        agent,
        (date(2026, 3, 2), "no_answer"),
        (date(2026, 3, 4), "busy"),
        (date(2026, 3, 6), "no_answer"),
    )
    Visit.objects.filter(pk=visit.pk).update(callback_at=NOW + timedelta(hours=3))
    with time_machine.travel(NOW, tick=False):
        assert retry_unreached()["to_sms"] == 0


@pytest.mark.spec("3.fallback")
def test_when_a_channel_fails_it_moves_on_and_records_the_failure(branch, agent, monkeypatch):
    def gateway_down(visit):
        raise RuntimeError("gateway down")

    monkeypatch.setattr(ladder, "sms_queue_for_visit", gateway_down)
    monkeypatch.setattr(ladder, "invite_create", gateway_down)
    (visit,) = pending(branch, 1)
    failed_calls(
        visit,
        agent,
        (date(2026, 3, 2), "no_answer"),
        (date(2026, 3, 4), "busy"),
        (date(2026, 3, 6), "no_answer"),
    )
    with time_machine.travel(NOW, tick=False):
        retry_unreached()
    visit.refresh_from_db()
    assert visit.channel == "sms"
    assert visit.attempts.get(channel="sms").outcome == "sms_failed"
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        assert retry_unreached_task.delay().get()["to_online"] == 1
    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        assert retry_unreached()["unreachable"] == 1
    visit.refresh_from_db()
    assert (
        visit.status == "unreachable"
        and visit.attempts.get(channel="online").outcome == "online_expired"
    )
