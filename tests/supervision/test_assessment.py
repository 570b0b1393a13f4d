"""Training and the monthly assessment (SPEC §5): figures on a hand-computed data set, a fair
ranking (minimum sample, lower-bound satisfaction), ties, rewards, frozen months."""

import datetime as dt
import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Certification, StaffCertification
from supervision.assessment import (
    AssessmentFrozen,
    assessment_compute,
    competition_ranks,
    satisfaction_lower_bound,
)
from supervision.models import (
    AuditReview,
    AuditSample,
    AuditSampleItem,
    Complaint,
    MonthlyAssessment,
    TrainingAttendance,
    TrainingCourse,
)
from supervision.training import training_attendance_record
from visits.models import ContactAttempt

from .conftest import at, make_record

pytestmark = [pytest.mark.django_db, pytest.mark.spec("5.assessment", clause="七.3")]

OCTOBER = dt.date(2026, 10, 1)
AFTER_OCTOBER = at(2026, 11, 2, 2)


@pytest.fixture(autouse=True)
def small_thresholds(settings):
    settings.CALLBACK = {
        **settings.CALLBACK,
        "ASSESSMENT_MIN_RATED_VISITS": 2,
        "ASSESSMENT_REWARD_TOP": 1,
        "ASSESSMENT_SATISFACTION_Z": 1.65,
        "ASSESSMENT_WEIGHTS": {
            "reach_rate": 0.2,
            "on_time_rate": 0.2,
            "satisfaction": 0.3,
            "audit_score": 0.3,
            "upheld_complaint_penalty": 0.05,
        },
    }


def attempt(record_or_visit, agent, outcome, when):
    visit = getattr(record_or_visit, "visit", record_or_visit)
    return ContactAttempt.objects.create(
        visit=visit, channel="phone", agent=agent, outcome=outcome, started_at=when
    )


def review(record, reviewer, score, finished_at):
    sample, _ = AuditSample.objects.get_or_create(
        period_start=dt.date(2026, 9, 1),
        period_end=dt.date(2026, 9, 30),
        seed=1,
        created_by=reviewer,
    )
    item = AuditSampleItem.objects.create(sample=sample, record=record, agent=record.submitted_by)
    return AuditReview.objects.create(
        item=item,
        reviewer=reviewer,
        score=score,
        finished_at=finished_at,
        record_complete="yes",
        identity_stated="yes",
        script_followed="yes",
        reminders_given="yes",
        handled_in_time="yes",
        escalation_justified="yes",
    )


@pytest.fixture
def month_data(branch, supervisor, agent_factory):
    """ann: 4 records (5, 5, 4, unrated; one late), 5 visits tried, 4 reached, audit 80 and
    90, one upheld complaint answered in October (another upheld in November, one rejected).
    bob: 2 records (3, 4), both reached and on time. cat: 1 record (5)."""
    ann, bob, cat = agent_factory("ann"), agent_factory("bob"), agent_factory("cat")
    ann_records = [
        make_record(agent=ann, branch=branch, submitted_at=at(2026, 10, 5), satisfaction=5),
        make_record(agent=ann, branch=branch, submitted_at=at(2026, 10, 6), satisfaction=5),
        make_record(agent=ann, branch=branch, submitted_at=at(2026, 10, 7), satisfaction=4),
        make_record(
            agent=ann,
            branch=branch,
            submitted_at=at(2026, 10, 9),
            due_at=at(2026, 10, 8),
            completed_at=at(2026, 10, 9),
        ),
    ]
    for record in ann_records:
        attempt(record, ann, "reached", record.submitted_at)
    unreached = make_record(agent=bob, branch=branch, submitted_at=at(2026, 9, 1)).visit
    attempt(unreached, ann, "no_answer", at(2026, 10, 10))
    attempt(ann_records[0], ann, "no_answer", at(2026, 10, 4))  # same visit: counted once
    for sat in (3, 4):
        record = make_record(
            agent=bob, branch=branch, submitted_at=at(2026, 10, 12), satisfaction=sat
        )
        attempt(record, bob, "reached", record.submitted_at)
    record = make_record(agent=cat, branch=branch, submitted_at=at(2026, 10, 20), satisfaction=5)
    attempt(record, cat, "reached", record.submitted_at)
    # Outside October: must not count.
    make_record(agent=ann, branch=branch, submitted_at=at(2026, 11, 1, 0, 0), satisfaction=1)
    review(ann_records[0], supervisor, 80, at(2026, 10, 15))
    review(ann_records[1], supervisor, 90, at(2026, 10, 16))
    review(ann_records[2], supervisor, 10, at(2026, 11, 3))
    for upheld, answered in (
        (True, at(2026, 10, 20)),
        (True, at(2026, 11, 5)),
        (False, at(2026, 10, 21)),
    ):
        Complaint.objects.create(
            source="hotline",
            text="t",
            agent=ann,
            upheld=upheld,
            answered_at=answered,
            status="answered",
            decision_due_at=answered,
        )
    return ann, bob, cat


def test_it_computes_the_hand_computed_figures(month_data):
    ann, bob, cat = month_data
    assert assessment_compute(month=OCTOBER, now=AFTER_OCTOBER) >= 3
    a = MonthlyAssessment.objects.get(agent=ann, month=OCTOBER)
    assert (a.visits_completed, a.visits_attempted, a.rated_visits, a.upheld_complaints) == (
        4,
        5,
        3,
        1,
    )
    assert a.reach_rate == pytest.approx(0.8)
    assert a.on_time_rate == pytest.approx(0.75)
    assert a.raw_satisfaction == pytest.approx(14 / 3)
    # Ratings {5: 2, 4: 1} with one pseudo-rating per star: mean 29/8, second moment 121/8.
    assert a.adjusted_satisfaction == pytest.approx(
        29 / 8 - 1.65 * math.sqrt((121 / 8 - (29 / 8) ** 2) / 9)
    )
    assert a.adjusted_satisfaction == pytest.approx(2.8502, abs=1e-4)
    assert a.audit_score == pytest.approx(85)
    # 100 * (.2*.8 + .2*.75 + .3*(2.8502-1)/4 + .3*.85) - 5 per upheld complaint
    assert a.composite == pytest.approx(65.38)
    b = MonthlyAssessment.objects.get(agent=bob, month=OCTOBER)
    assert (b.visits_completed, b.reach_rate, b.on_time_rate, b.audit_score) == (2, 1.0, 1.0, None)
    assert b.adjusted_satisfaction == pytest.approx(2.4163, abs=1e-4)
    # No audit score: the weights of the present parts are renormalised (.2 + .2 + .3).
    assert b.composite == pytest.approx(72.32)
    c = MonthlyAssessment.objects.get(agent=cat, month=OCTOBER)
    assert c.composite == pytest.approx(72.18) and c.rated_visits == 1


def test_it_ranks_fairly_and_marks_the_reward(month_data):
    ann, bob, cat = month_data
    assessment_compute(month=OCTOBER, now=AFTER_OCTOBER)
    rows = {r.agent: r for r in MonthlyAssessment.objects.filter(month=OCTOBER)}
    assert (rows[bob].rank, rows[bob].rewarded) == (1, True)
    assert (rows[ann].rank, rows[ann].rewarded) == (2, False)
    # cat's single 5-star call is listed but not ranked: below the minimum of rated visits.
    assert (rows[cat].rank, rows[cat].rewarded) == (None, False)


def test_three_five_star_calls_do_not_beat_three_hundred_at_four_point_eight():
    few = satisfaction_lower_bound({5: 3}, z=1.65)
    many = satisfaction_lower_bound({5: 240, 4: 60}, z=1.65)  # mean 4.8
    assert few == pytest.approx(2.9365, abs=1e-4)
    assert many == pytest.approx(4.7241, abs=1e-4)
    assert few < many
    assert satisfaction_lower_bound({}, z=1.65) is None


def test_ties_share_a_rank_and_the_next_rank_is_skipped(branch, agent_factory):
    twins = [agent_factory("dan"), agent_factory("eve")]
    for agent in twins:
        for sat in (4, 4):
            record = make_record(
                agent=agent, branch=branch, submitted_at=at(2026, 10, 3), satisfaction=sat
            )
            attempt(record, agent, "reached", record.submitted_at)
    low = agent_factory("fay")
    for sat in (3, 3):
        record = make_record(
            agent=low, branch=branch, submitted_at=at(2026, 10, 3), satisfaction=sat
        )
        attempt(record, low, "reached", record.submitted_at)
    assessment_compute(month=OCTOBER, now=AFTER_OCTOBER)
    rows = {r.agent.username: r for r in MonthlyAssessment.objects.filter(month=OCTOBER)}
    assert rows["dan"].composite == rows["eve"].composite
    assert (rows["dan"].rank, rows["eve"].rank, rows["fay"].rank) == (1, 1, 3)
    assert rows["dan"].rewarded and rows["eve"].rewarded and not rows["fay"].rewarded
    assert competition_ranks({1: 90.0, 2: 80.0, 3: 80.0, 4: 70.0}) == {1: 1, 2: 2, 3: 2, 4: 4}


def test_a_past_month_is_frozen_once_computed(month_data):
    assessment_compute(month=OCTOBER, now=AFTER_OCTOBER)
    assert MonthlyAssessment.objects.filter(month=OCTOBER, frozen=False).count() == 0
    with pytest.raises(AssessmentFrozen):
        assessment_compute(month=OCTOBER, now=AFTER_OCTOBER)


def test_the_running_month_may_be_recomputed(month_data):
    ann = month_data[0]
    assessment_compute(month=OCTOBER, now=at(2026, 10, 25))
    assert not MonthlyAssessment.objects.filter(frozen=True).exists()
    Complaint.objects.filter(agent=ann, upheld=True).update(answered_at=at(2026, 10, 22))
    assessment_compute(month=OCTOBER, now=at(2026, 10, 25))
    assert MonthlyAssessment.objects.get(agent=ann, month=OCTOBER).upheld_complaints == 2


def test_it_uses_a_fixed_number_of_queries_whatever_the_number_of_agents(
    month_data, agent_factory, branch
):
    assessment_compute(month=OCTOBER, now=at(2026, 10, 25))  # both measured runs replace rows
    with CaptureQueriesContext(connection) as three:
        assessment_compute(month=OCTOBER, now=at(2026, 10, 25))
    for n in range(4):
        agent = agent_factory(f"more{n}")
        make_record(agent=agent, branch=branch, submitted_at=at(2026, 10, 3), satisfaction=4)
    with CaptureQueriesContext(connection) as seven:
        assessment_compute(month=OCTOBER, now=at(2026, 10, 25))
    assert len(seven) == len(three)


def test_the_beat_task_computes_last_month(month_data):
    import time_machine

    from supervision.tasks import compute_monthly_assessment_task

    with time_machine.travel(AFTER_OCTOBER):
        assert compute_monthly_assessment_task.delay().get() >= 3
        assert compute_monthly_assessment_task.delay().get() == 0  # frozen: nothing twice
    assert MonthlyAssessment.objects.filter(month=OCTOBER, frozen=True).count() >= 3


def test_the_page_lists_the_ranking(client, supervisor, month_data):
    assessment_compute(month=OCTOBER, now=AFTER_OCTOBER)
    client.force_login(supervisor)
    response = client.get("/supervision/assessments/", {"month": "2026-10"})
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        html.index('data-agent="bob"')
        < html.index('data-agent="ann"')
        < html.index('data-agent="cat"')
    )
    response = client.post("/supervision/assessments/", {"month": "2026-10"}, follow=True)
    assert "已定稿" in response.content.decode()


@pytest.mark.spec("5.training", clause="七.1")
def test_a_passed_course_grants_its_certification(supervisor, agent):
    wealth = Certification.objects.create(code="wealth", name="理财产品资质")
    course = TrainingCourse.objects.create(name="理财合规", hours=4, grants=wealth)
    training_attendance_record(
        course=course,
        agent=agent,
        attended_on=dt.date(2026, 10, 1),
        hours=4,
        passed=False,
        by=supervisor,
    )
    assert not StaffCertification.objects.filter(profile=agent.profile).exists()
    training_attendance_record(
        course=course,
        agent=agent,
        attended_on=dt.date(2026, 10, 8),
        hours=4,
        passed=True,
        by=supervisor,
    )
    training_attendance_record(
        course=course,
        agent=agent,
        attended_on=dt.date(2026, 10, 9),
        hours=4,
        passed=True,
        by=supervisor,
    )
    granted = StaffCertification.objects.get(profile=agent.profile, certification=wealth)
    assert granted.granted_on == dt.date(2026, 10, 8)
    assert TrainingAttendance.objects.filter(agent=agent).count() == 3


@pytest.mark.spec("5.training")
def test_the_training_page_records_attendance(client, supervisor, agent):
    course = TrainingCourse.objects.create(name="话术培训", hours=2)
    client.force_login(supervisor)
    response = client.post(
        "/supervision/training/",
        {
            "action": "attendance",
            "course": course.pk,
            "agent": agent.pk,
            "attended_on": "2099-01-01",
            "hours": "2",
        },
    )
    assert (
        response.status_code == 200 and "attended_on" in response.context["attendance_form"].errors
    )
    response = client.post(
        "/supervision/training/",
        {
            "action": "attendance",
            "course": course.pk,
            "agent": agent.pk,
            "attended_on": "2026-10-01",
            "hours": "2",
            "passed": "on",
        },
    )
    assert response.status_code == 302
    assert TrainingAttendance.objects.get().passed is True
