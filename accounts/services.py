"""Writes on staff, customers and accounts."""

import datetime
import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import (
    Account,
    AccountStatus,
    Branch,
    Customer,
    Department,
    Role,
    StaffProfile,
)
from accounts.permissions import grant_branch, grant_department

logger = logging.getLogger(__name__)

IDEMPOTENCY_CONFLICT = _("该 event_id 已用于内容不同的事件。")


@transaction.atomic
def staff_create(
    *,
    username: str,
    password: str,
    role: str,
    full_name: str = "",
    email: str = "",
    branches: list[Branch] | tuple = (),
    departments: list[Department] | tuple = (),
    employee_no: str | None = None,
):
    """A user with a profile, its role group, and its branch/department scope."""
    User = get_user_model()
    user = User(username=username, email=email, first_name=full_name)
    user.set_password(password)
    user.is_staff = role in (
        Role.ADMINISTRATOR,
        Role.SECURITY_ADMIN,
        Role.AUDIT_ADMIN,
    )
    user.save()
    StaffProfile.objects.create(user=user, role=role, employee_no=employee_no)
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    for branch in branches:
        grant_branch(user, branch)
    for department in departments:
        grant_department(user, department)
    return user


@transaction.atomic
def accounts_close(*, closed_on: dict[int, datetime.date]) -> int:
    """Mark accounts closed as core banking reported (an ``account_closed`` event), on the
    given day unless already closed, and end the business relationship of customers left
    with no open account. Returns the number of accounts changed."""
    changed = 0
    for account_id, day in closed_on.items():
        changed += (
            Account.objects.filter(pk=account_id)
            .exclude(status=AccountStatus.CLOSED)
            .update(status=AccountStatus.CLOSED, closed_on=day, updated_at=timezone.now())
        )
    customer_relationship_refresh(
        customer_ids=Account.objects.filter(pk__in=list(closed_on)).values_list(
            "customer_id", flat=True
        )
    )
    return changed


@transaction.atomic
def customer_relationship_refresh(*, customer_ids: Iterable[int]) -> None:
    """SPEC §6: the business relationship ends when the customer's last account closes, by
    whichever path (API, event, admin), on the day that account closed; reopening an account
    clears it. Two set-based UPDATEs over the customers named."""
    ids = list(customer_ids)
    if not ids:
        return
    accounts = Account.objects.filter(customer=OuterRef("pk"))
    open_accounts = accounts.exclude(status=AccountStatus.CLOSED)
    Customer.objects.filter(pk__in=ids, relationship_ended_on__isnull=False).filter(
        Exists(open_accounts)
    ).update(relationship_ended_on=None, updated_at=timezone.now())
    last_closed = (
        accounts.order_by().values("customer").annotate(last=Max("closed_on")).values("last")
    )
    Customer.objects.filter(pk__in=ids, relationship_ended_on__isnull=True).filter(
        Exists(accounts), ~Exists(open_accounts)
    ).update(
        relationship_ended_on=Coalesce(Subquery(last_closed), Value(timezone.localdate())),
        updated_at=timezone.now(),
    )


def security_department() -> Department:
    """The department that receives suspected frauds (SPEC §4): the setting
    SECURITY_DEPARTMENT_CODE, default ``security``, created by a migration. Should an
    administrator have removed it, it is made again rather than losing a fraud report."""
    department, created = Department.objects.get_or_create(
        code=settings.CALLBACK["SECURITY_DEPARTMENT_CODE"], defaults={"name": "安全保卫部"}
    )
    if created:
        logger.warning("security department was missing and has been created")
    return department
