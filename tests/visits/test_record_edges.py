"""Completing a record at the edges (SPEC §4 "Precise rules for the edges"): an information
change reported on any visit leaves its own follow-up; a denied transaction reaches the
security department on an install without demo data."""

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings

from accounts.models import Department
from escalations.models import Escalation
from tests.factories import AccountEventFactory
from visits.models import Visit, VisitTrigger
from workspace.services import attempt_log, record_submit

from .workspace_helpers import CALL_TIME, open_visit

pytestmark = [pytest.mark.django_db]

RECORD = {
    "mobile_status": "confirmed",
    "reminder_anti_fraud": True,
    "reminder_safe_operation": True,
    "satisfaction": 5,
    "handling": "no_problem",
}


@pytest.fixture(autouse=True)
def _at_call_time():
    with time_machine.travel(CALL_TIME, tick=False):
        yield


def reached_special_event(agent, account, *transactions):
    visit = open_visit(account.branch, agent=agent, account=account, kind="special_event")
    VisitTrigger.objects.bulk_create([VisitTrigger(visit=visit, event=e) for e in transactions])
    attempt_log(visit=visit, agent=agent, outcome="reached")
    return visit


@pytest.mark.spec("4.info-change-follow-up", clause=("三.1", "四.1"))
def test_a_change_reported_on_a_special_event_visit_leaves_a_separate_follow_up(agent, account):
    visit = reached_special_event(agent, account)
    record_submit(
        visit=visit,
        agent=agent,
        data={**RECORD, "mobile_status": "changed", "reported_values": {"mobile": "13912345678"}},
        transaction_checks={},
    )
    visit.refresh_from_db()
    assert visit.status == "completed"
    (follow_up,) = Visit.objects.open().filter(account=account)
    assert follow_up.pk != visit.pk and follow_up.kind == "special_event"
    assert follow_up.events.get().data["fields"] == ["mobile"]


@pytest.mark.spec("4.security-department", clause="九.2")
def test_a_denied_transaction_reaches_the_security_department_made_by_the_migration(agent, account):
    assert Department.objects.filter(code="security").exists()  # no demo data, no fixture
    denied = AccountEventFactory(account=account, amount="90000.00", currency="CNY", flagged=True)
    visit = reached_special_event(agent, account, denied)
    record = record_submit(
        visit=visit, agent=agent, data=RECORD, transaction_checks={denied.pk: False}
    )
    escalation = Escalation.objects.get()
    assert escalation.department.code == "security" and escalation.urgency == "urgent"
    assert escalation.record == record


@pytest.mark.spec("4.security-department", clause="九.2")
def test_the_security_department_is_a_setting_and_never_missing(agent, account):
    denied = AccountEventFactory(account=account, amount="90000.00", currency="CNY", flagged=True)
    visit = reached_special_event(agent, account, denied)
    with override_settings(
        CALLBACK={**settings.CALLBACK, "SECURITY_DEPARTMENT_CODE": "anti_fraud"}
    ):
        record_submit(visit=visit, agent=agent, data=RECORD, transaction_checks={denied.pk: False})
    assert Escalation.objects.get().department.code == "anti_fraud"
