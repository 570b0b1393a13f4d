"""No lost work: the record form's server-side draft, a record posted after the session
expired, and a plain visit of an address that only takes a form."""

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.urls import reverse

from visits.models import VisitRecord
from workspace.models import RecordDraft
from workspace.services import attempt_log

from .workspace_helpers import CALL_TIME, RECORD_OK, open_visit

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _at_call_time():
    with time_machine.travel(CALL_TIME, tick=False):
        yield


@pytest.fixture
def reached(agent, account):
    visit = open_visit(account.branch, agent=agent, account=account)
    attempt_log(visit=visit, agent=agent, outcome="reached")
    return visit


def test_it_saves_the_draft_as_the_agent_types_and_restores_it(client, agent, reached):
    client.force_login(agent)
    typed = {"r-feedback": "客户说要出国半年", "r-mobile_status": "changed",
             "r-reminder_anti_fraud": "on", "csrfmiddlewaretoken": "x"}  # fmt: skip
    response = client.post(reverse("workspace:record_draft", args=[reached.pk]), typed)
    assert response.status_code == 200
    assert "草稿已保存" in response.content.decode()
    draft = RecordDraft.objects.get(visit=reached, agent=agent)
    assert "csrfmiddlewaretoken" not in draft.data
    page = client.get(reverse("workspace:call_screen", args=[reached.pk]))
    form = page.context["record_form"]
    assert form.initial["feedback"] == "客户说要出国半年"
    assert form.initial["mobile_status"] == "changed"
    assert form.initial["reminder_anti_fraud"] is True
    assert form.initial["reminder_safe_operation"] is False
    html = page.content.decode()
    assert 'id="draft-restored"' in html
    assert "客户说要出国半年" in html


def test_it_discards_the_draft_once_the_record_is_submitted(client, agent, reached):
    client.force_login(agent)
    client.post(reverse("workspace:record_draft", args=[reached.pk]), {"r-feedback": "a"})
    response = client.post(reverse("workspace:record", args=[reached.pk]), RECORD_OK)
    assert response.status_code == 302
    assert VisitRecord.objects.filter(visit=reached).exists()
    assert not RecordDraft.objects.filter(visit=reached).exists()


def test_it_keeps_a_record_posted_after_the_session_expired(client, agent, reached):
    client.force_login(agent)
    Session.objects.all().delete()  # the session expired while the agent was typing
    data = {**RECORD_OK, "r-feedback": "长时间通话后的反馈"}
    response = client.post(reverse("workspace:record", args=[reached.pk]), data)
    call_screen = reverse("workspace:call_screen", args=[reached.pk])
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert response["Location"].endswith("next=" + call_screen)
    assert not VisitRecord.objects.exists()

    client.force_login(agent)  # signing in keeps the session's data
    page = client.get(call_screen)
    assert page.context["record_form"].initial["feedback"] == "长时间通话后的反馈"
    assert RecordDraft.objects.get(visit=reached, agent=agent).data["r-feedback"] == [
        "长时间通话后的反馈"
    ]


def test_an_autosave_without_a_session_tells_the_page(client, agent, reached):
    response = client.post(
        reverse("workspace:record_draft", args=[reached.pk]),
        {"r-feedback": "x"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204
    assert response["HX-Trigger"] == "session-expired"


@pytest.mark.parametrize(
    ("name", "target"),
    [("workspace:record", "workspace:call_screen"), ("workspace:attempt", "workspace:call_screen"),
     ("workspace:reveal", "workspace:call_screen")],
)  # fmt: skip
def test_a_plain_visit_of_a_form_address_leads_to_its_page(client, agent, reached, name, target):
    client.force_login(agent)
    response = client.get(reverse(name, args=[reached.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse(target, args=[reached.pk])


def test_take_next_opened_directly_leads_to_the_worklist(client, agent):
    client.force_login(agent)
    response = client.get(reverse("workspace:claim_next"))
    assert (response.status_code, response["Location"]) == (302, reverse("workspace:worklist"))


def test_another_method_gets_the_405_page(client, agent, reached):
    client.force_login(agent)
    response = client.put(reverse("workspace:claim_next"))
    assert response.status_code == 405
    assert "操作方式不正确" in response.content.decode()
    assert 'id="error-home"' in response.content.decode()
