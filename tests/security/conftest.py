"""Personas and records for the data-protection tests."""

import pytest
from django.utils import timezone

from accounts.models import Role
from accounts.services import staff_create
from escalations.models import Escalation, EscalationStatus, Urgency
from tests.factories import VisitFactory
from tests.fixtures import PASSWORD
from visits.models import VisitRecord, VisitStatus


@pytest.fixture
def audit_admin(db):
    return staff_create(username="auditor1", password=PASSWORD, role=Role.AUDIT_ADMIN)


@pytest.fixture
def security_admin(db):
    return staff_create(username="secadmin1", password=PASSWORD, role=Role.SECURITY_ADMIN)


@pytest.fixture
def other_supervisor(branch):
    return staff_create(
        username="super2", password=PASSWORD, role=Role.SUPERVISOR, branches=[branch]
    )


@pytest.fixture
def record(account, agent):
    visit = VisitFactory(account=account, status=VisitStatus.COMPLETED, assigned_to=agent)
    return VisitRecord.objects.create(
        visit=visit,
        channel="phone",
        submitted_by=agent,
        reminder_anti_fraud=True,
        reminder_safe_operation=True,
        feedback="客户表示账户正常使用",
        satisfaction=5,
    )


@pytest.fixture
def closed_escalation(record, security_dept):
    return Escalation.objects.create(
        visit=record.visit,
        record=record,
        account=record.visit.account,
        department=security_dept,
        urgency=Urgency.NORMAL,
        status=EscalationStatus.CLOSED,
        description="客户反映短信提醒未收到",
        deadline_at=timezone.now(),
        closed_at=timezone.now(),
    )
