"""Fixtures of the escalation loop: a visit of the Beijing agent, handlers of two departments,
and escalations put straight into any status (to test every cell of the transition table)."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Role
from accounts.services import staff_create
from escalations.models import Escalation, EscalationStatus
from escalations.services import escalation_open
from tests.factories import VisitFactory
from tests.fixtures import PASSWORD
from visits.models import VisitKind


@pytest.fixture
def visit(account, agent):
    return VisitFactory(account=account, status="in_progress", assigned_to=agent)


@pytest.fixture
def ebanking_handler(ebanking_dept):
    return staff_create(
        username="handler2",
        password=PASSWORD,
        role=Role.HANDLER,
        full_name="赵敏",
        email="zhaomin@bank.example",
        departments=[ebanking_dept],
    )


@pytest.fixture
def named_handler(handler):
    handler.first_name = "张三"
    handler.email = "zhangsan@bank.example"
    handler.save(update_fields=["first_name", "email"])
    return handler


@pytest.fixture
def second_handler(security_dept):
    return staff_create(
        username="handler3", password=PASSWORD, role=Role.HANDLER, full_name="孙七",
        departments=[security_dept],
    )  # fmt: skip


@pytest.fixture
def make_escalation(visit, agent, security_dept, handler):
    """An escalation of the agent's visit to the security department, put into ``status``."""

    def make(status=EscalationStatus.OPENED, *, urgency="normal", deadline_at=None, **fields):
        escalation = escalation_open(
            visit=visit,
            department=security_dept,
            urgency=urgency,
            description="客户称网银无法登录",
            by=agent,
        )
        updates = {"status": status, **fields}
        if status not in (EscalationStatus.OPENED, EscalationStatus.REOPENED):
            updates.setdefault("handler", handler)
        if status == EscalationStatus.REPLIED:
            updates.setdefault(
                "follow_up_visit",
                VisitFactory(account=visit.account, kind=VisitKind.FOLLOW_UP),
            )
        if deadline_at is not None:
            updates["deadline_at"] = deadline_at
        for name, value in updates.items():
            setattr(escalation, name, value)
        escalation.save()
        return Escalation.objects.get(pk=escalation.pk)

    return make


def at(*args) -> dt.datetime:
    """A Beijing wall-clock time."""
    return timezone.make_aware(dt.datetime(*args))


@pytest.fixture(autouse=True)
def wednesday_morning():
    """Wednesday 2025-09-10 10:00 in Beijing: inside the loaded 2025 calendar, a plain week."""
    import time_machine

    with time_machine.travel(at(2025, 9, 10, 10, 0), tick=False) as traveller:
        yield traveller
