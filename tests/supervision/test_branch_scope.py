"""Training, assessments, rankings and destruction lists are branch-scoped like the rest: a
supervisor of Shanghai sees nothing of Beijing's agents or lists."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from accounts.services import staff_create
from supervision.models import (
    DestructionList,
    MonthlyAssessment,
    TrainingAttendance,
    TrainingCourse,
)
from tests.fixtures import PASSWORD

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def shanghai_supervisor(other_branch):
    return staff_create(
        username="sh-super", password=PASSWORD, role=Role.SUPERVISOR, branches=[other_branch]
    )


@pytest.fixture
def beijing_data(agent, supervisor):
    month = timezone.localdate().replace(day=1)
    course = TrainingCourse.objects.create(name="反诈骗话术", hours=2)
    TrainingAttendance.objects.create(
        course=course, agent=agent, attended_on=timezone.localdate(), hours=2, passed=True
    )
    MonthlyAssessment.objects.create(month=month, agent=agent, rank=1, composite=0.9)
    return {"month": month, "list": DestructionList.objects.create(created_by=supervisor)}


def test_it_shows_training_of_the_users_branches_only(
    client, beijing_data, shanghai_supervisor, supervisor
):
    client.force_login(shanghai_supervisor)
    assert len(client.get(reverse("supervision:training")).context["page"].object_list) == 0
    client.force_login(supervisor)
    assert len(client.get(reverse("supervision:training")).context["page"].object_list) == 1


def test_it_shows_assessments_and_rankings_of_the_users_branches_only(
    client, beijing_data, shanghai_supervisor, supervisor, agent
):
    month = f"{beijing_data['month']:%Y-%m}"
    client.force_login(shanghai_supervisor)
    page = client.get(reverse("supervision:assessments"), {"month": month})
    assert list(page.context["rows"]) == [] and page.context["months"] == []
    export = client.get(reverse("supervision:export", args=["rankings", "csv"]))
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode()[1:])))
    assert len(rows) == 1  # the header only
    dashboard = client.get(reverse("supervision:dashboard"))
    assert agent.username not in dashboard.content.decode()
    client.force_login(supervisor)
    page = client.get(reverse("supervision:assessments"), {"month": month})
    assert [row.agent for row in page.context["rows"]] == [agent]


def test_it_hides_other_branches_destruction_lists_with_404(
    client, beijing_data, shanghai_supervisor, supervisor
):
    destruction_list = beijing_data["list"]
    client.force_login(shanghai_supervisor)
    assert list(client.get(reverse("records:destruction_lists")).context["page"].object_list) == []
    detail = reverse("records:destruction_detail", args=[destruction_list.pk])
    assert client.get(detail).status_code == 404
    approve = reverse("records:destruction_act", args=[destruction_list.pk, "approve"])
    assert client.post(approve).status_code == 404
    client.force_login(supervisor)
    assert client.get(detail).status_code == 200
