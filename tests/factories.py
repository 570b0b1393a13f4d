"""factory_boy factories. Realistic but deterministic enough for assertions."""

import datetime as dt

import factory
from django.utils import timezone

from accounts.models import Account, AccountEvent, Branch, Customer, Department
from visits.models import Visit


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"BR{n:03d}")
    name = factory.Sequence(lambda n: f"测试支行{n}")


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"dept{n}")
    name = factory.Sequence(lambda n: f"部门{n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"C{n:07d}")
    customer_type = "personal"
    name = "张伟"
    id_type = "resident_id"
    id_number = "110101199003074514"
    id_expiry = dt.date(2030, 5, 1)
    mobile = "13800138000"
    email = "zw@example.com"
    landline = "010-12345678"
    address = "北京市东城区东长安街1号"
    risk_level = "low"
    branch = factory.SubFactory(BranchFactory)


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    number = factory.Sequence(lambda n: f"62220200{n:08d}")
    customer = factory.SubFactory(CustomerFactory)
    account_type = "personal_savings"
    status = "active"
    opened_on = dt.date(2025, 6, 2)
    branch = factory.SelfAttribute("customer.branch")


class AccountEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountEvent

    event_id = factory.Sequence(lambda n: f"EV-{n:08d}")
    event_type = "transaction"
    account = factory.SubFactory(AccountFactory)
    occurred_at = factory.LazyFunction(timezone.now)


class VisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visit

    account = factory.SubFactory(AccountFactory)
    branch = factory.SelfAttribute("account.branch")
    kind = "periodic"
    status = "pending"
    due_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=1))
