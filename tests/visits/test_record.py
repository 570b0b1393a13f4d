"""The structured record of a reached visit (SPEC §2) and what submitting it sets off."""

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountEvent
from core.models import AuditLogEntry
from escalations.models import Escalation, EscalationStatus
from tests.factories import AccountEventFactory
from visits.models import TransactionCheck, Visit, VisitRecord, VisitTrigger
from workspace.services import WorkspaceError, attempt_log, record_submit

from .workspace_helpers import CALL_TIME, RECORD_OK, ensure_seed_data, open_visit

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _seed_data(db):
    ensure_seed_data()


@pytest.fixture(autouse=True)
def _at_call_time():
    with time_machine.travel(CALL_TIME, tick=False):
        yield


@pytest.fixture
def reached(agent, account):
    visit = open_visit(account.branch, agent=agent, account=account)
    attempt_log(visit=visit, agent=agent, outcome="reached")
    return visit


def _submit(client, visit, **changes):
    data = {**RECORD_OK, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(reverse("workspace:record", args=[visit.pk]), data)


@pytest.mark.spec("2.security-reminders", clause=("三.2", "四.3"))
def test_it_shows_a_missing_security_reminder_next_to_the_field(client, agent, reached):
    client.force_login(agent)
    response = _submit(client, reached, **{"r-reminder_safe_operation": None})
    assert response.status_code == 400
    form = response.context["record_form"]
    assert form.errors["reminder_safe_operation"] == ["必须向客户提示安全操作事项后才能提交。"]
    assert "reminder_anti_fraud" not in form.errors
    html = response.content.decode()
    field_html = html[html.index('id="field-r-reminder_safe_operation"') :][:600]
    assert "必须向客户提示安全操作事项后才能提交" in field_html
    assert not VisitRecord.objects.exists()
    reached.refresh_from_db()
    assert reached.status == "in_progress"


@pytest.mark.spec("2.security-reminders", clause=("三.2", "四.3"))
def test_the_database_refuses_a_phone_record_without_reminders(reached):
    with pytest.raises(IntegrityError), transaction.atomic():
        VisitRecord.objects.create(visit=reached, channel="phone", reminder_anti_fraud=True)


@pytest.mark.spec("2.record", clause="八.1")
def test_it_needs_a_reached_attempt_first(client, agent, account):
    visit = open_visit(account.branch, agent=agent, account=account)
    attempt_log(visit=visit, agent=agent, outcome="no_answer")
    client.force_login(agent)
    response = _submit(client, visit)
    assert response.status_code == 400
    assert "已接通" in str(response.context["record_form"].non_field_errors())
    assert not VisitRecord.objects.exists()


@pytest.mark.spec("6.immutable", clause=("八.1", "八.2"))
def test_it_completes_the_visit_and_the_record_is_read_only(client, agent, reached):
    client.force_login(agent)
    response = _submit(client, reached)
    assert response.status_code == 302 and response["Location"] == reverse("workspace:worklist")
    reached.refresh_from_db()
    assert reached.status == "completed" and reached.completed_at == timezone.now()
    record = reached.record
    assert (record.channel, record.satisfaction, record.mobile_status) == ("phone", 5, "confirmed")
    assert record.reminder_anti_fraud and record.reminder_safe_operation
    assert AuditLogEntry.objects.filter(action="visit.complete").count() == 1
    # A second submission changes nothing; the screen shows the record read-only.
    response = _submit(client, reached, **{"r-feedback": "改过的反馈", "r-satisfaction": "1"})
    assert response.status_code == 302
    record.refresh_from_db()
    assert (record.feedback, record.satisfaction) == ("一切正常", 5)
    screen = client.get(reverse("workspace:call_screen", args=[reached.pk]))
    html = screen.content.decode()
    assert "已提交，只读" in html and 'id="record-form"' not in html
    with pytest.raises(WorkspaceError):
        record_submit(visit=reached, agent=agent, data={}, transaction_checks={})


@pytest.mark.spec("7.escalation", clause=("三.2", "四.2", "九.2"))
def test_a_denied_transaction_goes_to_security_as_urgent(client, agent, account, security_dept):
    visit = open_visit(account.branch, agent=agent, account=account, kind="special_event")
    ok = AccountEventFactory(account=account, amount="60000.00", currency="CNY", flagged=True)
    bad = AccountEventFactory(account=account, amount="90000.00", currency="CNY", flagged=True)
    VisitTrigger.objects.bulk_create(
        [VisitTrigger(visit=visit, event=ok), VisitTrigger(visit=visit, event=bad)]
    )
    attempt_log(visit=visit, agent=agent, outcome="reached")
    client.force_login(agent)
    response = _submit(client, visit, **{f"r-txn_{ok.pk}": "confirm"})
    assert response.context["record_form"].errors[f"txn_{bad.pk}"]  # each one must be answered
    response = _submit(client, visit, **{f"r-txn_{ok.pk}": "confirm", f"r-txn_{bad.pk}": "deny"})
    assert response.status_code == 302
    checks = dict(TransactionCheck.objects.values_list("event_id", "confirmed"))
    assert checks == {ok.pk: True, bad.pk: False}
    escalation = Escalation.objects.get()
    assert (escalation.department, escalation.urgency) == (security_dept, "urgent")
    assert escalation.record == VisitRecord.objects.get(visit=visit)
    assert "90000.00" in escalation.description


@pytest.mark.spec("7.escalation", clause="九.2")
def test_it_escalates_a_problem_to_the_chosen_department(client, agent, reached, ebanking_dept):
    client.force_login(agent)
    response = _submit(client, reached, **{"r-handling": "escalated", "r-problem": ""})
    errors = response.context["record_form"].errors
    assert set(errors) >= {"problem", "escalate_department", "escalate_urgency"}
    response = _submit(
        client, reached, **{"r-handling": "escalated", "r-problem": "手机银行无法登录",
                            "r-escalate_department": ebanking_dept.pk, "r-escalate_urgency": "high"},
    )  # fmt: skip
    assert response.status_code == 302
    escalation = Escalation.objects.get()
    assert (escalation.department, escalation.urgency) == (ebanking_dept, "high")
    assert escalation.description == "手机银行无法登录"
    assert VisitRecord.objects.get().handling == "escalated"


@pytest.mark.spec("2.record", clause=("三.1", "四.1"))
def test_a_reported_change_raises_a_follow_up_and_leaves_master_data_alone(
    client, agent, reached, account
):
    client.force_login(agent)
    response = _submit(
        client, reached, **{"r-mobile_status": "changed", "r-mobile_new": "13912345678"}
    )
    assert response.status_code == 302
    account.customer.refresh_from_db()
    assert account.customer.mobile == "13800138000"
    record = VisitRecord.objects.get()
    assert record.reported_changes == {"mobile": "139****5678"}  # kept masked
    event = AccountEvent.objects.get(event_type="info_changed")
    assert event.created_by == agent and event.data["fields"] == ["mobile"]
    follow_up = Visit.objects.get(triggers__event=event)
    assert follow_up.kind == "special_event" and follow_up.is_open


@pytest.mark.spec("2.record", clause="四.2")
def test_needs_are_leads_only_with_marketing_consent(client, agent, account):
    visit = open_visit(account.branch, agent=agent, account=account)
    attempt_log(visit=visit, agent=agent, outcome="reached")
    client.force_login(agent)
    screen = client.get(reverse("workspace:call_screen", args=[visit.pk]))
    assert "needs" not in screen.context["record_form"].fields
    _submit(client, visit, **{"r-needs": "loan"})
    assert VisitRecord.objects.get(visit=visit).needs == []

    account.customer.marketing_consent = True
    account.customer.save()
    second = open_visit(account.branch, agent=agent, account=account, kind="special_event")
    attempt_log(visit=second, agent=agent, outcome="reached")
    _submit(client, second, **{"r-needs": ["loan", "wealth"], "r-needs_note": "房贷"})
    record = VisitRecord.objects.get(visit=second)
    assert (record.needs, record.needs_note) == (["loan", "wealth"], "房贷")


@pytest.mark.spec("7.follow-up", clause=("三.3", "九.3"))
def test_a_follow_up_visit_asks_whether_the_customer_is_satisfied(
    client, agent, account, ebanking_dept
):
    original = open_visit(account.branch, account=account, status="completed")
    follow_up = open_visit(account.branch, agent=agent, account=account, kind="follow_up")
    escalation = Escalation.objects.create(
        visit=original, account=account, department=ebanking_dept, urgency="normal",
        description="转账失败", deadline_at=timezone.now(), status=EscalationStatus.REPLIED,
        follow_up_visit=follow_up,
    )  # fmt: skip
    attempt_log(visit=follow_up, agent=agent, outcome="reached")
    client.force_login(agent)
    response = _submit(client, follow_up)
    assert "resolution_satisfied" in response.context["record_form"].errors
    response = _submit(client, follow_up, **{"r-resolution_satisfied": "no"})
    assert "resolution_words" in response.context["record_form"].errors
    response = _submit(
        client, follow_up, **{"r-resolution_satisfied": "no", "r-resolution_words": "还是不行"}
    )
    assert response.status_code == 302
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.REOPENED and escalation.round == 2
    record = VisitRecord.objects.get(visit=follow_up)
    assert record.resolution_satisfied is False
    assert record.answers["resolution_words"] == "还是不行"
