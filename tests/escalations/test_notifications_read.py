"""Acting on an escalation marks the notifications that told the user about it as read."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import Notification
from escalations.models import Escalation, Urgency
from escalations.services import detail_link
from tests.factories import AccountFactory, CustomerFactory, VisitFactory

pytestmark = [pytest.mark.django_db]


def test_acting_on_an_escalation_marks_its_notifications_read(
    client, handler, agent, branch, security_dept
):
    visit = VisitFactory(account=AccountFactory(customer=CustomerFactory(branch=branch)))
    escalation = Escalation.objects.create(
        visit=visit, account=visit.account, department=security_dept, urgency=Urgency.NORMAL,
        description="客户否认一笔交易", deadline_at=timezone.now() + dt.timedelta(days=1),
        opened_by=agent,
    )  # fmt: skip
    told = Notification.objects.create(user=handler, message="新转办", link=detail_link(escalation))
    other = Notification.objects.create(user=handler, message="别的", link="/elsewhere/")
    client.force_login(handler)
    response = client.post(reverse("escalations:act", args=[escalation.pk, "accept"]))
    assert response.status_code == 302
    told.refresh_from_db()
    other.refresh_from_db()
    assert told.read_at is not None and other.read_at is None
