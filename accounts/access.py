"""Changes to who may do what: a user's role, groups, permissions and superuser flag.

This is the one path for them (the admin's user page calls it), so the separation of duties
holds however the change is made:
- nobody changes their own role, groups, permissions or superuser flag;
- only the security administrator manages users' access (a superuser too, for the set-up);
- a user holds one role group at most, so the system administrator, the security
  administrator and the audit administrator are three different people;
- the superuser flag is never granted here (it holds every duty at once): a superuser is made
  on the command line at installation, nowhere else.
"""

from collections.abc import Iterable

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Role, StaffProfile
from accounts.permissions import has_role
from core.audit import audit
from core.audit_actions import AuditAction

ROLE_GROUPS = {role.value for role in Role}


class DutyViolation(ValidationError):
    """The change would break the separation of duties."""


def access_change_check(*, actor, user, groups: Iterable[Group], is_superuser: bool) -> None:
    """Raises DutyViolation when ``actor`` may not give ``user`` these groups and flag."""
    if actor is None or not actor.is_authenticated:
        raise DutyViolation(_("只有安全管理员可以修改用户的角色与权限。"))
    if not (actor.is_superuser or has_role(actor, Role.SECURITY_ADMIN)):
        raise DutyViolation(_("只有安全管理员可以修改用户的角色与权限。"))
    if user.pk is not None and actor.pk == user.pk:
        raise DutyViolation(_("不能修改自己的角色、权限或超级用户标志。"))
    if is_superuser and not user.is_superuser:
        raise DutyViolation(_("超级用户身份不能在此授予。"))
    roles = sorted({group.name for group in groups} & ROLE_GROUPS)
    if len(roles) > 1:
        raise DutyViolation(
            _("一个用户只能担任一种角色（职责分离）：%(roles)s") % {"roles": "、".join(roles)}
        )


@transaction.atomic
def user_access_change(
    *,
    actor,
    user,
    groups: Iterable[Group],
    permissions: Iterable[Permission] = (),
    is_superuser: bool | None = None,
    request=None,
) -> None:
    """Set ``user``'s groups, direct permissions and superuser flag; the profile's role follows
    its role group. Checked against the duty matrix, written to the audit log with the actor."""
    groups, permissions = list(groups), list(permissions)
    flag = user.is_superuser if is_superuser is None else is_superuser
    access_change_check(actor=actor, user=user, groups=groups, is_superuser=flag)
    before = {
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "permissions": sorted(_codenames(user.user_permissions.all())),
        "is_superuser": user.is_superuser,
    }
    after = {
        "groups": sorted(group.name for group in groups),
        "permissions": sorted(_codenames(permissions)),
        "is_superuser": flag,
    }
    if before == after:
        return
    user.groups.set(groups)
    user.user_permissions.set(permissions)
    if flag != user.is_superuser:
        type(user)._base_manager.filter(pk=user.pk).update(is_superuser=flag)
        user.is_superuser = flag
    roles = [group.name for group in groups if group.name in ROLE_GROUPS]
    if roles:
        StaffProfile.objects.filter(user=user).exclude(role=roles[0]).update(role=roles[0])
    audit(
        AuditAction.USER_ACCESS_CHANGE,
        actor=actor,
        obj=user,
        before=before,
        after=after,
        request=request,
    )


def _codenames(permissions) -> list[str]:
    return [f"{p.content_type.app_label}.{p.codename}" for p in permissions]
