"""The complaint page: one form open at a time, the answer offered only to the investigator,
staff picked by name."""

import pytest
from django.urls import reverse

from accounts.models import Role
from accounts.services import staff_create
from supervision.complaints import complaint_assign, complaint_register
from supervision.models import ComplaintSource
from tests.fixtures import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.spec("8.complaints")]


def test_only_the_investigator_is_offered_the_answer_and_pickers_show_names(
    client, supervisor, branch
):
    investigator = staff_create(
        username="super2", password=PASSWORD, role=Role.SUPERVISOR, branches=[branch],
        full_name="周敏",
    )  # fmt: skip
    complaint = complaint_register(source=ComplaintSource.HOTLINE, text="态度差", by=supervisor)
    url = reverse("supervision:complaint", args=[complaint.pk])
    client.force_login(supervisor)
    page = client.get(url)
    assert "answer" not in page.context["forms"]
    assert "周敏（super2）" in page.content.decode()  # the investigator picker
    complaint_assign(complaint=complaint, investigator=investigator, by=supervisor)
    assert "answer" not in client.get(url).context["forms"]
    refused = client.post(url, {"action": "answer", "upheld": "on", "answer": "x"})
    assert refused.status_code == 400
    client.force_login(investigator)
    html = client.get(url).content.decode()
    assert 'id="complaint-answer"' in html
    assert html.count("<details") == len(client.get(url).context["forms"])
