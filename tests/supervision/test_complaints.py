"""Complaints about the callback work (SPEC §8): the regulator's clock, an independent
investigator, the public form's rate limit."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse

from accounts.models import Role
from accounts.services import staff_create
from supervision.complaints import (
    complaint_answer,
    complaint_assign,
    complaint_change_decide,
    complaint_change_request,
    complaint_link,
    complaint_register,
)
from supervision.models import Complaint, ComplaintChangeRequest, ComplaintSource, ComplaintStatus
from supervision.selectors import complaints_with_clock, overdue_complaints
from tests.fixtures import PASSWORD

from .conftest import at, make_record

END_SECONDS = dt.timedelta(seconds=59)  # deadlines end at 23:59:59

pytestmark = [pytest.mark.django_db, pytest.mark.spec("8.complaints")]


@pytest.fixture
def investigator(branch):
    return staff_create(
        username="super2", password=PASSWORD, role=Role.SUPERVISOR, branches=[branch]
    )


@pytest.fixture
def visit_record(branch, agent):
    return make_record(agent=agent, branch=branch, submitted_at=at(2026, 10, 3))


def register(by, **kwargs):
    kwargs.setdefault("received_at", at(2026, 11, 2, 9))
    return complaint_register(
        source=ComplaintSource.HOTLINE, text="回访人员态度差", by=by, **kwargs
    )


def test_it_links_the_visit_its_customer_branch_and_agent(supervisor, visit_record, agent):
    complaint = register(supervisor, visit=visit_record.visit)
    assert complaint.agent == agent
    assert complaint.branch == visit_record.visit.branch
    assert complaint.customer == visit_record.visit.account.customer


@pytest.fixture
def third(branch):
    return staff_create(
        username="super3", password=PASSWORD, role=Role.SUPERVISOR, branches=[branch]
    )


def approve(change, by):
    return complaint_change_decide(change=change, approve=True, by=by)


@pytest.mark.spec("8.complaints", clause="十.2")
def test_the_clock_is_15_days_30_when_complex_plus_an_approved_extension(
    supervisor, investigator, third
):
    complaint = register(supervisor)
    assert complaint.decision_due_at == at(2026, 11, 17, 23, 59) + END_SECONDS  # end of day
    asked = complaint_change_request(complaint=complaint, kind="complex", by=investigator)
    complaint.refresh_from_db()  # nothing changes until another supervisor approves
    assert complaint.is_complex is False
    assert complaint.decision_due_at == at(2026, 11, 17, 23, 59) + END_SECONDS
    approve(asked, third)
    complaint.refresh_from_db()
    assert complaint.is_complex is True
    assert complaint.decision_due_at == at(2026, 12, 2, 23, 59) + END_SECONDS
    with pytest.raises(ValidationError) as exc:
        complaint_change_request(
            complaint=complaint, kind="extension", days=31, reason="需调取录音", by=investigator
        )
    assert "extension_days" in exc.value.error_dict
    with pytest.raises(ValidationError) as exc:
        complaint_change_request(
            complaint=complaint, kind="extension", days=10, reason=" ", by=investigator
        )
    assert "extension_reason" in exc.value.error_dict
    asked = complaint_change_request(
        complaint=complaint, kind="extension", days=30, reason="需调取录音", by=investigator
    )
    approve(asked, third)
    complaint.refresh_from_db()
    assert complaint.decision_due_at == at(2027, 1, 1, 23, 59) + END_SECONDS  # 60 days at most
    assert complaint.due_provisional is False  # calendar days need no loaded year
    assert complaint.extension_approved_by == third
    with pytest.raises(ValidationError):  # at most one extension, 30 days in all
        complaint_change_request(
            complaint=complaint, kind="extension", days=1, reason="再延", by=investigator
        )


@pytest.mark.spec("8.complaints", clause="十.2")
def test_a_simple_complaint_can_never_be_extended(supervisor, investigator, third):
    complaint = register(supervisor)
    with pytest.raises(ValidationError) as exc:
        complaint_change_request(
            complaint=complaint, kind="extension", days=30, reason="需调取录音", by=investigator
        )
    assert "extension_days" in exc.value.error_dict
    complaint_change_request(complaint=complaint, kind="complex", by=investigator)
    with pytest.raises(ValidationError):  # a complex marking asked is not yet complex
        complaint_change_request(
            complaint=complaint, kind="extension", days=30, reason="需调取录音", by=investigator
        )
    assert not ComplaintChangeRequest.objects.filter(kind="extension").exists()
    complaint.refresh_from_db()
    assert complaint.decision_due_at == at(2026, 11, 17, 23, 59) + END_SECONDS  # not 45 days


@pytest.mark.spec("8.complaints", clause="十.2")
def test_the_approval_needs_another_supervisor_than_the_requester_and_the_registrant(
    supervisor, investigator, third, agent
):
    complaint = register(supervisor)
    asked = complaint_change_request(complaint=complaint, kind="complex", by=investigator)
    for refused in (investigator, supervisor):  # who asked; who registered it
        with pytest.raises(ValidationError):
            approve(asked, refused)
    with pytest.raises(ValidationError):
        approve(asked, agent)  # not a supervisor
    with pytest.raises(ValidationError):
        complaint_change_request(complaint=complaint, kind="complex", by=third)  # one waits
    assert Complaint.objects.get(pk=complaint.pk).is_complex is False
    decided = complaint_change_decide(change=asked, approve=False, by=third)
    assert (decided.approved, decided.decided_by) == (False, third)
    assert Complaint.objects.get(pk=complaint.pk).is_complex is False  # rejected
    with pytest.raises(ValidationError):
        approve(asked, third)  # decided once


@pytest.mark.spec("8.complaints", clause="十.2")
def test_complex_at_registration_is_asked_not_granted(supervisor, investigator):
    complaint = register(supervisor, is_complex=True)
    assert complaint.is_complex is False
    assert complaint.decision_due_at == at(2026, 11, 17, 23, 59) + END_SECONDS
    asked = complaint.change_requests.get()
    assert (asked.kind, asked.requested_by) == ("complex", supervisor)
    with pytest.raises(ValidationError):
        approve(asked, supervisor)
    approve(asked, investigator)
    assert Complaint.objects.get(pk=complaint.pk).decision_due_at == (
        at(2026, 12, 2, 23, 59) + END_SECONDS
    )


@pytest.mark.spec("8.complaints", clause="十.2")
def test_the_page_offers_the_approval_only_to_another_supervisor(
    client, supervisor, investigator, third
):
    complaint = register(supervisor)
    url = reverse("supervision:complaint", args=[complaint.pk])
    client.force_login(investigator)
    assert client.post(url, {"action": "classify", "reason": "涉及多个网点"}).status_code == 302
    page = client.get(url)
    assert "decide" not in page.context["forms"] and "classify" not in page.context["forms"]
    html = page.content.decode()
    assert 'id="complaint-decide"' not in html and "须由申请人以外" in html
    asked = ComplaintChangeRequest.objects.get()
    # The requester posting the approval anyway is refused, nothing changes.
    response = client.post(url, {"action": "decide", "change": asked.pk, "approve": "1"})
    assert response.status_code == 200 and response.context["forms"]["decide"].errors
    assert Complaint.objects.get(pk=complaint.pk).is_complex is False
    client.force_login(third)
    page = client.get(url)
    assert page.context["forms"]["decide"].initial == {"change": asked.pk}
    assert 'id="complaint-decide"' in page.content.decode()
    response = client.post(url, {"action": "decide", "change": asked.pk, "approve": "1"})
    assert response.status_code == 302
    assert Complaint.objects.get(pk=complaint.pk).is_complex is True
    assert "extend" in client.get(url).context["forms"]  # complex now: an extension may be asked


def test_the_list_shows_what_is_overdue(client, supervisor, investigator):
    late = register(supervisor, received_at=at(2026, 11, 1, 9))
    on_time = register(supervisor, received_at=at(2026, 11, 10, 9))
    answered_late = register(supervisor, received_at=at(2026, 10, 1, 9))
    complaint_assign(complaint=answered_late, investigator=investigator, by=supervisor)
    with time_machine.travel(at(2026, 10, 20, 9)):
        complaint_answer(complaint=answered_late, upheld=False, answer="已核实", by=investigator)
    with time_machine.travel(at(2026, 11, 17, 9, 1)):
        flagged = dict(
            complaints_with_clock(Complaint.objects.all()).values_list("pk", "is_overdue")
        )
        assert flagged == {late.pk: True, on_time.pk: False, answered_late.pk: True}
        assert list(overdue_complaints(Complaint.objects.all())) == [late]
        client.force_login(supervisor)
        response = client.get(reverse("supervision:complaints"), {"overdue": "1"})
        assert [c.pk for c in response.context["page"]] == [late.pk, answered_late.pk]
        assert "超期" in response.content.decode()


def test_the_investigator_is_not_involved(supervisor, investigator, agent, visit_record, branch):
    complaint = register(supervisor, visit=visit_record.visit)
    for involved in (supervisor,):  # the person who registered it
        with pytest.raises(ValidationError) as exc:
            complaint_assign(complaint=complaint, investigator=involved, by=investigator)
        assert "investigator" in exc.value.error_dict
    with pytest.raises(ValidationError):  # not a supervisor at all (and the agent complained about)
        complaint_assign(complaint=complaint, investigator=agent, by=supervisor)
    # A supervisor who did the visit themselves is involved too.
    acting = staff_create(
        username="super3", password=PASSWORD, role=Role.SUPERVISOR, branches=[branch]
    )
    record = make_record(agent=acting, branch=branch, submitted_at=at(2026, 10, 5))
    other = register(supervisor, visit=record.visit)
    with pytest.raises(ValidationError):
        complaint_assign(complaint=other, investigator=acting, by=supervisor)
    complaint = complaint_assign(complaint=complaint, investigator=investigator, by=supervisor)
    assert complaint.status == ComplaintStatus.INVESTIGATING


def test_linking_the_investigators_own_visit_is_refused(supervisor, investigator, branch):
    complaint = register(supervisor)
    complaint_assign(complaint=complaint, investigator=investigator, by=supervisor)
    record = make_record(agent=investigator, branch=branch, submitted_at=at(2026, 10, 5))
    with pytest.raises(ValidationError):
        complaint_link(complaint=complaint, visit=record.visit, by=supervisor)
    assert Complaint.objects.get(pk=complaint.pk).visit is None


def test_only_the_investigator_answers_once(supervisor, investigator):
    complaint = register(supervisor)
    with pytest.raises(ValidationError):  # nobody assigned yet
        complaint_answer(complaint=complaint, upheld=True, answer="成立", by=investigator)
    complaint_assign(complaint=complaint, investigator=investigator, by=supervisor)
    with pytest.raises(ValidationError):
        complaint_answer(complaint=complaint, upheld=True, answer="成立", by=supervisor)
    with pytest.raises(ValidationError) as exc:
        complaint_answer(complaint=complaint, upheld=True, answer="", by=investigator)
    assert "answer" in exc.value.error_dict
    complaint = complaint_answer(
        complaint=complaint, upheld=True, answer="投诉成立，已整改", by=investigator
    )
    assert complaint.status == ComplaintStatus.ANSWERED and complaint.upheld is True
    with pytest.raises(ValidationError):
        complaint_answer(complaint=complaint, upheld=False, answer="改判", by=investigator)
    assert Complaint.objects.get(pk=complaint.pk).upheld is True


def test_the_staff_form_registers_and_the_detail_page_assigns(
    client, supervisor, investigator, visit_record, agent
):
    client.force_login(supervisor)
    response = client.post(
        reverse("supervision:complaint_new"),
        {"source": "hotline", "visit": str(visit_record.visit_id), "text": "多次来电打扰"},
    )
    complaint = Complaint.objects.get()
    assert response.status_code == 302 and complaint.agent == agent
    assert complaint.registered_by == supervisor
    response = client.post(
        reverse("supervision:complaint_new"), {"source": "hotline", "visit": "999999", "text": "x"}
    )
    assert response.status_code == 200 and "visit" in response.context["form"].errors
    url = reverse("supervision:complaint", args=[complaint.pk])
    response = client.post(url, {"action": "assign", "investigator": str(supervisor.pk)})
    assert response.status_code == 200
    assert "investigator" in response.context["forms"]["assign"].errors
    response = client.post(url, {"action": "assign", "investigator": str(investigator.pk)})
    assert response.status_code == 302
    assert Complaint.objects.get().investigator == investigator
    assert client.post(url, {"action": "nonsense"}).status_code == 400


@override_settings(ROOT_URLCONF="tests.supervision.urls")
def test_the_public_form_is_rate_limited_per_address(client, settings):
    cache.clear()
    settings.CALLBACK = {**settings.CALLBACK, "COMPLAINT_FORM_PER_IP_HOUR": 2}
    url = reverse("public_complaints:new")
    assert client.get(url).status_code == 200
    body = {"contact_name": "张先生", "contact_phone": "13800138000", "text": "回访电话太频繁"}
    assert client.post(url, body, REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.post(url, body, REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.post(url, body, REMOTE_ADDR="10.0.0.1").status_code == 429
    assert client.post(url, body, REMOTE_ADDR="10.0.0.2").status_code == 200
    assert Complaint.objects.filter(source=ComplaintSource.ONLINE).count() == 3
    complaint = Complaint.objects.first()
    assert complaint.registered_by is None and complaint.decision_due_at is not None
    # Bad input: the field is named, nothing saved.
    response = client.post(
        url, {"contact_name": "x", "contact_phone": "abc", "text": "y"}, REMOTE_ADDR="10.0.0.3"
    )
    assert response.status_code == 200 and "contact_phone" in response.context["form"].errors
    assert Complaint.objects.count() == 3


@override_settings(ROOT_URLCONF="tests.supervision.urls")
def test_the_public_form_has_a_global_limit(client, settings):
    cache.clear()
    settings.CALLBACK = {**settings.CALLBACK, "COMPLAINT_FORM_GLOBAL_HOUR": 3}
    url = reverse("public_complaints:new")
    body = {"contact_name": "李", "contact_phone": "13800138000", "text": "t"}
    codes = [client.post(url, body, REMOTE_ADDR=f"10.0.1.{n}").status_code for n in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert Complaint.objects.count() == 3
