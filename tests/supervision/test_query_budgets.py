"""Query budgets of the supervision pages (samples, reviews, corrective actions, complaints,
training, assessments, exports) and of the records pages (a record, destruction lists): each
costs the same number of queries whatever the number of rows it shows (measured with a few
rows, then with many)."""

import csv
import datetime as dt
import io

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from supervision.assessment import assessment_compute
from supervision.complaints import complaint_register
from supervision.models import (
    ComplaintSource,
    CorrectiveAction,
    DestructionList,
    DestructionListItem,
    TrainingAttendance,
    TrainingCourse,
)
from supervision.reviews import review_submit
from supervision.rollups import rollups_refresh
from supervision.sampling import sample_draw
from tests.budgets import AUDIT_ENTRY
from visits.models import ContactAttempt, RecordAmendment

from .conftest import at, make_record

pytestmark = pytest.mark.django_db

CHECKS = {
    "record_complete": "yes",
    "identity_stated": "yes",
    "script_followed": "no",
    "reminders_given": "yes",
    "handled_in_time": "yes",
    "escalation_justified": "no",
}


def _records(agent, branch, count: int, day: int = 3) -> list:
    return [
        make_record(agent=agent, branch=branch, submitted_at=at(2026, 10, day), satisfaction=4)
        for _ in range(count)
    ]


def _draw(supervisor, seed: int):
    return sample_draw(
        period_start=dt.date(2026, 10, 1),
        period_end=dt.date(2026, 10, 31),
        rate="1",
        seed=seed,
        by=supervisor,
    )


def _get(client, url, budget, assert_num_queries, **params):
    with assert_num_queries(budget):
        response = client.get(url, params)
    assert response.status_code == 200
    return response


def test_the_samples_page_has_a_fixed_query_budget(
    client, supervisor, agent, branch, django_assert_num_queries
):
    _records(agent, branch, 2)
    _draw(supervisor, 1)
    url = reverse("supervision:samples")
    client.force_login(supervisor)
    client.get(url)  # warm the content-type cache that guardian reads once per process
    _get(client, url, SAMPLES_QUERIES, django_assert_num_queries)
    for seed in range(2, 12):
        _draw(supervisor, seed)
    response = _get(client, url, SAMPLES_QUERIES, django_assert_num_queries)
    assert len(response.context["page"].object_list) == 11


# 1 session, 2 user with their staff profile (role); 3 the branch and department scope (one statement, once per request);
# 4 the count of the supervisor's samples (paginator); 5 unread notifications (menu); 6 the
# branches and 7 the agents of the draw form; 8 the page of samples with their progress (one
# grouped query); 9-11 savepoint, session refresh, release (SESSION_SAVE_EVERY_REQUEST).
SAMPLES_QUERIES = 11


def test_the_sample_page_has_a_fixed_query_budget(
    client, supervisor, agent, branch, django_assert_num_queries
):
    _records(agent, branch, 2)
    small = _draw(supervisor, 1)
    client.force_login(supervisor)
    client.get(reverse("supervision:sample", args=[small.pk]))
    _get(client, reverse("supervision:sample", args=[small.pk]), SAMPLE_QUERIES,
         django_assert_num_queries)  # fmt: skip
    _records(agent, branch, 15)
    large = _draw(supervisor, 2)
    response = _get(
        client, reverse("supervision:sample", args=[large.pk]), SAMPLE_QUERIES,
        django_assert_num_queries,
    )  # fmt: skip
    assert len(list(response.context["items"])) == 17


# 1 session, 2 user with their staff profile (role); 3 the supervisor's own sample; 4 its
# progress (one aggregate); 5 unread notifications (menu); 6 the items with their record,
# visit, branch, account, agent and review (one query); 7-9 savepoint, session refresh, release.
SAMPLE_QUERIES = 9


def test_the_review_page_has_a_fixed_query_budget(
    client, supervisor, agent, branch, django_assert_num_queries
):
    _records(agent, branch, 1)
    item = _draw(supervisor, 1).items.get()
    review = review_submit(
        item=item, reviewer=supervisor, checklist=CHECKS, score=70, findings="未按话术表明身份"
    )
    url = reverse("supervision:review", args=[item.pk])
    client.force_login(supervisor)
    client.get(url)
    _get(client, url, REVIEW_QUERIES, django_assert_num_queries)
    CorrectiveAction.objects.bulk_create(
        CorrectiveAction(
            review=review, agent=agent, description=f"整改 {n}", due_on=dt.date(2026, 12, 1)
        )
        for n in range(10)
    )
    response = _get(client, url, REVIEW_QUERIES, django_assert_num_queries)
    assert len(response.context["actions"]) == 11


# 1 session, 2 user with their staff profile (role); 3 the branch and department scope (one statement, once per request);
# 4 the item with its sample, agent, record, visit, account, customer and branch, within the
# scope; 5 its review; 6 unread notifications (menu); 7 the reviewer; 8 the corrective actions
# of the review (one query); 9-11 savepoint, session refresh, release.
REVIEW_QUERIES = 11


def test_the_agents_corrective_actions_page_has_a_fixed_query_budget(
    client, supervisor, agent, branch, django_assert_num_queries
):
    def actions(count: int) -> None:
        for record in _records(agent, branch, count):
            item = _draw(supervisor, record.pk).items.get(record=record)
            review_submit(
                item=item, reviewer=supervisor, checklist=CHECKS, score=60, findings="未提示风险"
            )

    actions(1)
    url = reverse("supervision:my_actions")
    client.force_login(agent)
    client.get(url)
    _get(client, url, MY_ACTIONS_QUERIES, django_assert_num_queries)
    actions(5)
    response = _get(client, url, MY_ACTIONS_QUERIES, django_assert_num_queries)
    assert len(response.context["actions"]) == 6


# 1 session, 2 user with their staff profile (role); 3 unread notifications (menu); 4 the agent's
# corrective actions with their review, item and record (one query); 5-7 savepoint, session
# refresh, release.
MY_ACTIONS_QUERIES = 7


def _complaints(agent, branch, count: int) -> list:
    return [
        complaint_register(
            source=ComplaintSource.HOTLINE,
            text="回访人员态度差",
            visit=record.visit,
            received_at=at(2026, 11, 2, 9),
        )
        for record in _records(agent, branch, count)
    ]


def test_the_complaints_page_has_a_fixed_query_budget(
    client, supervisor, agent, branch, django_assert_num_queries
):
    _complaints(agent, branch, 2)
    url = reverse("supervision:complaints")
    client.force_login(supervisor)
    client.get(url)
    _get(client, url, COMPLAINTS_QUERIES, django_assert_num_queries)
    _complaints(agent, branch, 12)
    response = _get(client, url, COMPLAINTS_QUERIES, django_assert_num_queries)
    assert len(response.context["page"].object_list) == 14


# 1 session, 2 user with their staff profile (role); 3 the branch and department scope (one statement, once per request);
# 4 the count of the complaints in scope (paginator); 5 unread notifications (menu); 6 the page
# of complaints with their branch, agent and investigator; 7-9 savepoint, session refresh,
# release.
COMPLAINTS_QUERIES = 9


def test_the_complaint_page_has_a_fixed_query_budget(
    client, supervisor, agent, branch, django_assert_num_queries
):
    first = _complaints(agent, branch, 1)[0]
    client.force_login(supervisor)
    client.get(reverse("supervision:complaint", args=[first.pk]))
    _get(client, reverse("supervision:complaint", args=[first.pk]), COMPLAINT_QUERIES,
         django_assert_num_queries)  # fmt: skip
    last = _complaints(agent, branch, 10)[-1]
    _get(client, reverse("supervision:complaint", args=[last.pk]), COMPLAINT_QUERIES,
         django_assert_num_queries)  # fmt: skip


# 1 session, 2 user with their staff profile (role); 3 the branch and department scope (one statement, once per request);
# 4 the complaint with its branch, visit, agent, investigator, registering and approving
# staff, within the scope; 5 the requests (complex, extension) waiting for approval, with who
# asked; 6 unread notifications (menu); 7 the supervisors who may investigate (assign form);
# 8-10 savepoint, session refresh, release.
COMPLAINT_QUERIES = 10


def test_the_training_page_has_a_fixed_query_budget(
    client, supervisor, agent, agent_factory, django_assert_num_queries
):
    def attend(count: int) -> None:
        for n in range(count):
            course = TrainingCourse.objects.create(name=f"反诈骗话术 {n}", hours=2)
            TrainingAttendance.objects.create(
                course=course,
                agent=agent_factory(),
                attended_on=dt.date(2026, 10, 1 + n),
                hours=2,
                passed=True,
            )

    attend(2)
    url = reverse("supervision:training")
    client.force_login(supervisor)
    client.get(url)
    _get(client, url, TRAINING_QUERIES, django_assert_num_queries)
    attend(10)
    response = _get(client, url, TRAINING_QUERIES, django_assert_num_queries)
    assert len(response.context["page"].object_list) == 12


# 1 session, 2 user with their staff profile (role); 3 the count of attendance rows (paginator);
# 4 unread notifications (menu); 5 the courses and 6 the agents of the attendance form; 7 the
# courses with the certification they grant; 8 the certifications of the course form; 9 the
# page of attendance with course and agent; 10-12 savepoint, session refresh, release.
# +1: the user's branch scope, one statement read once per request (whether it sees every
# branch, and which).
TRAINING_QUERIES = 13


def test_the_assessments_page_has_a_fixed_query_budget(
    client, supervisor, branch, agent_factory, django_assert_num_queries
):
    def agents_with_records(count: int) -> None:
        for _ in range(count):
            _records(agent_factory(), branch, 1)
        assessment_compute(month=dt.date(2026, 10, 1), now=at(2026, 10, 25))  # not frozen yet

    agents_with_records(2)
    url = reverse("supervision:assessments")
    client.force_login(supervisor)
    client.get(url)
    _get(client, url, ASSESSMENTS_QUERIES, django_assert_num_queries, month="2026-10")
    agents_with_records(10)
    response = _get(client, url, ASSESSMENTS_QUERIES, django_assert_num_queries, month="2026-10")
    assert len(response.context["rows"]) == 12


# 1 session, 2 user with their staff profile (role); 3 the months computed (the month picker);
# 4 unread notifications (menu); 5 the month's rows with their agent (one query); 6-8
# savepoint, session refresh, release.
# +1: the user's branch scope, one statement read once per request (whether it sees every
# branch, and which).
ASSESSMENTS_QUERIES = 9


def test_the_visits_export_has_a_fixed_query_budget(
    client, supervisor, agent, branch, django_assert_num_queries
):
    url = reverse("supervision:export", args=["visits", "csv"])

    def download() -> list[list[str]]:
        with django_assert_num_queries(EXPORT_QUERIES):
            response = client.get(url)
            body = b"".join(response.streaming_content).decode("utf-8-sig")
        assert response.status_code == 200
        return list(csv.reader(io.StringIO(body)))

    _records(agent, branch, 2)
    client.force_login(supervisor)
    client.get(url)
    assert len(download()) == 3
    _records(agent, branch, 20)
    assert len(download()) == 23


# 1 session, 2 user with their staff profile (role); 3 the branch and department scope (one statement, once per request);
# the audit entry of the download; 4-6 savepoint, session refresh, release; 7 the rows,
# streamed from one query with their branch, account, customer and agent.
EXPORT_QUERIES = 7 + AUDIT_ENTRY


def test_the_record_page_has_a_fixed_query_budget(
    client, supervisor, agent, branch, django_assert_num_queries
):
    record = _records(agent, branch, 1)[0]

    def amend(count: int) -> None:
        RecordAmendment.objects.bulk_create(
            RecordAmendment(
                record=record, field="feedback", old_value="", new_value=f"更正 {n}",
                reason="录入错误", amended_by=supervisor,
            )
            for n in range(count)
        )  # fmt: skip

    amend(1)
    url = reverse("records:detail", args=[record.pk])
    client.force_login(supervisor)
    client.get(url)
    _get(client, url, RECORD_QUERIES, django_assert_num_queries)
    amend(10)
    response = _get(client, url, RECORD_QUERIES, django_assert_num_queries)
    assert response.content.decode().count("录入错误") == 11


# 1 session, 2 user with their staff profile (role); 3 the branch and department scope (one statement, once per request);
# 4 the record with its visit, account, customer and author, within the scope; 5 its
# amendments with who made them (one query); 6 unread notifications (menu); 7-9 savepoint,
# session refresh, release.
RECORD_QUERIES = 9


def _destruction_lists(supervisor, count: int, items: int = 1) -> list[DestructionList]:
    made = []
    for _ in range(count):
        destruction_list = DestructionList.objects.create(created_by=supervisor)
        DestructionListItem.objects.bulk_create(
            DestructionListItem(
                destruction_list=destruction_list,
                record_class="cdd",
                object_type="accounts.customer",
                object_id=str(n),
                row_count=3,
            )
            for n in range(items)
        )
        made.append(destruction_list)
    return made


def test_the_destruction_lists_page_has_a_fixed_query_budget(
    client, supervisor, django_assert_num_queries
):
    _destruction_lists(supervisor, 2)
    url = reverse("records:destruction_lists")
    client.force_login(supervisor)
    client.get(url)
    _get(client, url, DESTRUCTION_LISTS_QUERIES, django_assert_num_queries)
    _destruction_lists(supervisor, 10)
    response = _get(client, url, DESTRUCTION_LISTS_QUERIES, django_assert_num_queries)
    assert len(response.context["page"].object_list) == 12


# 1 session, 2 user with their staff profile (role); 3 the count of lists (paginator); 4 unread
# notifications (menu); 5 the page of lists with who drew up and approved each; 6-8 savepoint,
# session refresh, release.
# +1: the user's branch scope, one statement read once per request (whether it sees every
# branch, and which).
DESTRUCTION_LISTS_QUERIES = 9


def test_the_destruction_list_page_has_a_fixed_query_budget(
    client, supervisor, django_assert_num_queries
):
    small, large = _destruction_lists(supervisor, 1, items=2) + _destruction_lists(
        supervisor, 1, items=40
    )
    client.force_login(supervisor)
    client.get(reverse("records:destruction_detail", args=[small.pk]))
    _get(client, reverse("records:destruction_detail", args=[small.pk]),
         DESTRUCTION_LIST_QUERIES, django_assert_num_queries)  # fmt: skip
    response = _get(client, reverse("records:destruction_detail", args=[large.pk]),
                    DESTRUCTION_LIST_QUERIES, django_assert_num_queries)  # fmt: skip
    assert len(response.context["items"].object_list) == 40


# 1 session, 2 user with their staff profile (role); 3 the list; 4 the count of its items
# (paginator); 5 its certificate, if any; 6 unread notifications (menu); 7 who drew it up; 8
# the page of items (up to 100); 9-11 savepoint, session refresh, release.
# +1: the user's branch scope, one statement read once per request (whether it sees every
# branch, and which).
DESTRUCTION_LIST_QUERIES = 12


def test_the_dashboard_has_a_fixed_query_budget(
    client, supervisor, agent, branch, django_assert_num_queries
):
    """Closed days from the roll-ups, today live: the same statements with 2 or 40 records a
    day (and as many visits and attempts)."""
    url = reverse("supervision:dashboard")

    def activity(count: int) -> None:
        now = timezone.now()
        for days in (0, 1, 3):
            for record in _records_at(agent, branch, count, now - dt.timedelta(days=days)):
                ContactAttempt.objects.create(
                    visit=record.visit, channel="phone", agent=agent,
                    started_at=record.submitted_at, outcome="reached",
                )  # fmt: skip
        rollups_refresh()

    client.force_login(supervisor)
    activity(2)
    client.get(url)
    cache.clear()
    first = _get(client, url, DASHBOARD_QUERIES, django_assert_num_queries)
    cached = _get(client, url, DASHBOARD_QUERIES - 3, django_assert_num_queries)
    activity(40)  # the refresh takes a new version: the roll-ups are read again
    second = _get(client, url, DASHBOARD_QUERIES, django_assert_num_queries)
    _get(client, url, DASHBOARD_QUERIES - 3, django_assert_num_queries)
    assert first.context["data"] == cached.context["data"]
    assert first.context["data"]["totals"]["due"] < second.context["data"]["totals"]["due"]


def _records_at(agent, branch, count: int, when: dt.datetime) -> list:
    return [make_record(agent=agent, branch=branch, submitted_at=when) for _ in range(count)]


# 1 session, 2 user with their staff profile; 3 the branch and department scope (one statement, once
# per request); 4 the visible branches (once, every figure filters on their ids); 5 when
# today's activity roll-up was built and the roll-ups' version; 6-7 the visit roll-ups (by
# kind, branch and day; by agent); 8 today's visits in one grouped scan; 9 the visits changed
# since today's build; 10 what the build counted of them, with their branches; 11 the branches
# of those it did not count (none of 11-14 when nothing changed, no 12 when the build counted
# them all); 12-13 their attempts and records now; 14 the activity roll-ups; 15 escalations;
# 16 the ranking month (no ranking yet); 17 the calendar warning; 18 the unread notifications;
# 19-21 savepoint, session refresh, release. The three roll-up reads (6, 7, 14) are cached
# until the roll-ups' version changes.
DASHBOARD_QUERIES = 21
