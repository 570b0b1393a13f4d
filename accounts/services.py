"""Writes on staff, customers and accounts."""

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch, Department, Role, StaffProfile
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
