"""The admin is one more path to the same rules (SPEC §4, §6): do-not-contact set there cancels
the open non-fraud visits as the API does, and closing the last account there ends the business
relationship as the API does; reopening resumes it."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Account, Customer
from core.models import AuditLogEntry
from tests.factories import AccountFactory, CustomerFactory, VisitFactory
from visits.models import Visit

pytestmark = pytest.mark.django_db

# Thursday 2026-12-31 10:00 Beijing time.
TODAY = dt.datetime(2026, 12, 31, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def admin_save(client, user, obj, **changes):
    """POST the object's admin change form as it stands, with ``changes``, as ``user`` (signed
    in at the frozen time: a session ages with the clock)."""
    client.force_login(user)
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    form = client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = changes.get(name, form.initial.get(name))
        if getattr(field.widget, "input_type", "") == "checkbox":
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else value
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


@pytest.fixture
def superuser(django_user_model):
    # The administrator role only views customers and accounts in the admin (they come from
    # core banking); the installation's superuser may change them.
    return django_user_model.objects.create_superuser("root", "root@bank.example", "x")


@pytest.mark.spec("4.do-not-contact", clause=("五.1", "五.2"))
def test_do_not_contact_set_in_the_admin_cancels_the_open_non_fraud_visits(
    client, superuser, branch
):
    customer = CustomerFactory(branch=branch)
    account = AccountFactory(customer=customer)
    periodic = VisitFactory(account=account, kind="periodic")
    fraud = VisitFactory(account=account, kind="special_event", suspected_fraud=True)
    with time_machine.travel(TODAY, tick=False):
        admin_save(client, superuser, customer, do_not_contact=True)
    assert Customer.objects.get(pk=customer.pk).do_not_contact is True
    periodic.refresh_from_db()
    assert (periodic.status, periodic.cancelled_reason) == ("cancelled", "do_not_contact")
    assert Visit.objects.get(pk=fraud.pk).is_open  # suspected fraud goes on
    entry = AuditLogEntry.objects.get(action="visit.cancel")
    assert entry.actor == superuser and entry.after["visits"] == [periodic.pk]
    # Saving again with the mark already set cancels nothing more.
    with time_machine.travel(TODAY, tick=False):
        admin_save(client, superuser, Customer.objects.get(pk=customer.pk), name="张伟（更正）")
    assert AuditLogEntry.objects.filter(action="visit.cancel").count() == 1


@pytest.mark.spec("6.retention", clause="八.3")
def test_closing_the_last_account_in_the_admin_ends_the_relationship(client, superuser, branch):
    customer = CustomerFactory(branch=branch)
    first = AccountFactory(customer=customer)
    last = AccountFactory(customer=customer)
    with time_machine.travel(TODAY, tick=False):
        admin_save(client, superuser, first, status="closed", closed_on="2026-10-01")
        assert Customer.objects.get(pk=customer.pk).relationship_ended_on is None  # one open
        admin_save(client, superuser, last, status="closed", closed_on="")  # no day given: today
    assert Account.objects.get(pk=last.pk).closed_on == dt.date(2026, 12, 31)
    assert Customer.objects.get(pk=customer.pk).relationship_ended_on == dt.date(2026, 12, 31)
    with time_machine.travel(TODAY + dt.timedelta(days=1), tick=False):
        admin_save(client, superuser, Account.objects.get(pk=last.pk), status="active")
    assert Account.objects.get(pk=last.pk).closed_on is None
    assert Customer.objects.get(pk=customer.pk).relationship_ended_on is None  # reopened
