"""What a reached visit's record holds (rulebook §4.2, §8.1) and a problem solved on the call
(§9.1)."""

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from escalations.models import Escalation
from visits.models import VisitRecord
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


def _submit(client, visit, **changes):
    return client.post(reverse("workspace:record", args=[visit.pk]), {**RECORD_OK, **changes})


@pytest.mark.spec("7.on-the-spot", clause="九.1")
def test_a_problem_solved_on_the_call_is_recorded_as_resolved_and_goes_nowhere(
    client, agent, reached
):
    client.force_login(agent)
    response = _submit(client, reached, **{"r-handling": "resolved", "r-problem": ""})
    assert response.status_code == 400
    assert "problem" in response.context["record_form"].errors  # what was solved must be said
    assert not VisitRecord.objects.exists()

    problem = "客户询问如何在手机银行查看近一个月交易明细，已逐步指导完成"
    response = _submit(client, reached, **{"r-handling": "resolved", "r-problem": problem})
    assert response.status_code == 302
    record = VisitRecord.objects.get(visit=reached)
    assert (record.handling, record.problem) == ("resolved", problem)
    assert not Escalation.objects.exists()  # solved on the spot: no department is involved
    reached.refresh_from_db()
    assert reached.status == "completed"


@pytest.mark.spec("2.record", clause="四.2")
def test_it_records_how_the_customer_uses_the_account_and_its_channels(client, agent, reached):
    client.force_login(agent)
    response = _submit(
        client, reached,
        **{"r-transactions_reviewed": "on", "r-usage_frequency": "每周两三次",
           "r-amount_range": "1,000-5,000 元", "r-usage_channels": ["mobile", "atm"],
           "r-online_banking": "not_used", "r-mobile_banking": "uses", "r-sms_alerts": "uses",
           "r-channel_feedback": "手机银行转账时偶尔卡顿"},
    )  # fmt: skip
    assert response.status_code == 302
    record = VisitRecord.objects.get(visit=reached)
    assert record.transactions_reviewed is True
    assert (record.usage_frequency, record.amount_range) == ("每周两三次", "1,000-5,000 元")
    assert sorted(record.usage_channels) == ["atm", "mobile"]
    assert (record.online_banking, record.mobile_banking, record.sms_alerts) == (
        "not_used", "uses", "uses",
    )  # fmt: skip
    assert record.channel_feedback == "手机银行转账时偶尔卡顿"


@pytest.mark.spec("2.record", clause="四.2")
def test_it_refuses_a_usage_channel_it_does_not_know(client, agent, reached):
    client.force_login(agent)
    response = _submit(client, reached, **{"r-usage_channels": ["carrier_pigeon"]})
    assert response.status_code == 400
    assert "usage_channels" in response.context["record_form"].errors
    assert not VisitRecord.objects.exists()


@pytest.mark.spec("6.records", clause="八.1")
def test_the_record_holds_time_channel_agent_customer_account_content_feedback_and_result(
    client, agent, reached, account
):
    client.force_login(agent)
    response = _submit(
        client, reached,
        **{"r-mobile_status": "confirmed", "r-feedback": "客户反馈手机银行偶尔卡顿",
           "r-satisfaction": "4", "r-handling": "resolved", "r-problem": "已指导客户更新应用"},
    )  # fmt: skip
    assert response.status_code == 302
    record = VisitRecord.objects.select_related("visit__account__customer").get(visit=reached)
    assert record.submitted_at == timezone.now()  # time
    assert record.channel == "phone"  # channel
    assert record.submitted_by == agent  # who made the visit
    assert record.visit.account == account  # account
    assert record.visit.account.customer == account.customer  # customer
    assert record.mobile_status == "confirmed"  # content
    assert record.feedback == "客户反馈手机银行偶尔卡顿"  # feedback
    assert (record.satisfaction, record.handling) == (4, "resolved")  # result


@pytest.mark.spec("2.record", clause="三.3")
@pytest.mark.parametrize("score", [0, 6])
def test_satisfaction_is_one_to_five_in_the_form_and_in_the_database(client, agent, reached, score):
    client.force_login(agent)
    response = _submit(client, reached, **{"r-satisfaction": str(score)})
    assert response.status_code == 400
    assert "satisfaction" in response.context["record_form"].errors
    with pytest.raises(IntegrityError), transaction.atomic():
        VisitRecord.objects.create(
            visit=reached, channel="phone", satisfaction=score,
            reminder_anti_fraud=True, reminder_safe_operation=True,
        )  # fmt: skip
    assert not VisitRecord.objects.exists()
