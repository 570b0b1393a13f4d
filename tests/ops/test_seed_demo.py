"""The demo shows the product at its best: a worklist with a few overdue visits, some due today
and most upcoming; a ranking that ranks; problems routed to the department that handles them;
a consent ledger behind every consent badge; and it says when calls are allowed."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Customer
from escalations.models import Escalation
from supervision.models import MonthlyAssessment
from visits.models import OPEN_VISIT_STATUSES, Visit

pytestmark = [pytest.mark.django_db]


def test_the_demo_data_shows_the_product_at_its_best():
    out = io.StringIO()
    call_command("seed_demo", customers=150, accounts=300, stdout=out)
    now = timezone.now()
    open_visits = Visit.objects.filter(status__in=OPEN_VISIT_STATUSES)
    total = open_visits.count()
    overdue = open_visits.filter(due_at__lt=now).count()
    assert total > 50
    assert 0 < overdue < total * 0.2
    assert open_visits.filter(due_at__gte=now + timezone.timedelta(days=1)).count() > total / 2
    assert MonthlyAssessment.objects.filter(rank__isnull=False).count() >= 6
    for escalation in Escalation.objects.select_related("department"):
        if "否认" in escalation.description:
            assert escalation.department.code == "security"
    consenting = Customer.objects.filter(marketing_consent=True)
    assert consenting.exists()
    assert not consenting.exclude(consents__kind="marketing", consents__granted=True).exists()
    printed = out.getvalue()
    assert "CALLING_HOURS_START=00:00 CALLING_HOURS_END=23:59 make run" in printed
    assert "Content-Type" not in printed  # no raw e-mail among the logins
