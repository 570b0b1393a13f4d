"""Who may see what. All guardian code lives here.

Scope is granted on Branch and Department objects (``accounts.access_branch``,
``accounts.access_department``), never per visit, so scoping a million visits is one
subquery on a handful of branch ids. A user with the *global* permission (the
administrator group, the audit administrator) sees every branch. Out-of-scope objects are
404, never 403, so that their existence is not revealed.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.http import Http404
from django.shortcuts import get_object_or_404
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from accounts.models import Account, Branch, Customer, Department, Role
from accounts.request_scope import Scope, scope_of

BRANCH_PERM = "accounts.access_branch"
DEPARTMENT_PERM = "accounts.access_department"
_APP, _BRANCH_CODE = BRANCH_PERM.split(".")
_DEPARTMENT_CODE = DEPARTMENT_PERM.split(".")[1]
_SCOPE_CODES = (_BRANCH_CODE, _DEPARTMENT_CODE)


def _request_scope(user) -> Scope | None:
    """Both scopes of the user, read once per request (accounts/request_scope.py); ``None``
    outside a request, where guardian answers as before."""
    return scope_of(user, _APP, _SCOPE_CODES)


def role_of(user) -> str | None:
    if not user.is_authenticated:
        return None
    profile = getattr(user, "profile", None)
    if profile is not None:
        return profile.role
    # A service client (API key) is authenticated but is no member of staff: no role.
    return Role.ADMINISTRATOR if getattr(user, "is_superuser", False) else None


def has_role(user, *roles: str) -> bool:
    return role_of(user) in roles


def role_required(*roles: str):
    """View decorator: the user must be logged in and have one of the roles (403 otherwise)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def grant_branch(user, branch: Branch) -> None:
    assign_perm(BRANCH_PERM, user, branch)


def revoke_branch(user, branch: Branch) -> None:
    remove_perm(BRANCH_PERM, user, branch)


def grant_department(user, department: Department) -> None:
    assign_perm(DEPARTMENT_PERM, user, department)


def branches_visible_to(user) -> QuerySet[Branch]:
    if not user.is_authenticated:
        return Branch.objects.none()
    scope = _request_scope(user)
    if scope is not None:
        if scope.everywhere(_BRANCH_CODE):
            return Branch.objects.all()
        return Branch.objects.filter(pk__in=sorted(scope.ids(_BRANCH_CODE)))
    return get_objects_for_user(user, BRANCH_PERM, klass=Branch, accept_global_perms=True)


def departments_visible_to(user) -> QuerySet[Department]:
    if not user.is_authenticated:
        return Department.objects.none()
    scope = _request_scope(user)
    if scope is not None:
        if scope.everywhere(_DEPARTMENT_CODE):
            return Department.objects.all()
        return Department.objects.filter(pk__in=sorted(scope.ids(_DEPARTMENT_CODE)))
    return get_objects_for_user(user, DEPARTMENT_PERM, klass=Department, accept_global_perms=True)


def branch_ids_visible_to(user):
    """For ``branch__in=``: within a request whose scope is read already, the branch ids as a
    list (everywhere: the subquery of every branch); otherwise the permission subquery, so
    the database does the join."""
    scope = _request_scope(user) if user.is_authenticated else None
    if scope is not None and not scope.everywhere(_BRANCH_CODE):
        return sorted(scope.ids(_BRANCH_CODE))
    return branches_visible_to(user).values("pk")


def customers_visible_to(user) -> QuerySet[Customer]:
    return Customer.objects.filter(branch__in=branch_ids_visible_to(user))


def accounts_visible_to(user) -> QuerySet[Account]:
    return Account.objects.filter(branch__in=branch_ids_visible_to(user))


def customer_for_user(user, pk):
    return get_object_or_404(customers_visible_to(user), pk=pk)


def account_for_user(user, pk):
    return get_object_or_404(accounts_visible_to(user), pk=pk)


def require_branch(user, branch_id) -> None:
    if not branches_visible_to(user).filter(pk=branch_id).exists():
        raise Http404


# Who may see unmasked personal data (each reveal is audit-logged by the caller).
REVEAL_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.TELLER)


def may_reveal_personal_data(user) -> bool:
    return has_role(user, *REVEAL_ROLES)


def staff_of_branch(branch: Branch, *roles: str):
    """Active users with one of ``roles`` granted access to ``branch`` (whom to notify)."""
    from guardian.shortcuts import get_users_with_perms

    users = get_users_with_perms(
        branch, only_with_perms_in=["access_branch"], with_group_users=False
    )
    return users.filter(is_active=True, profile__role__in=roles)


def staff_of_department(department: Department, *roles: str):
    """Active users with one of ``roles`` granted access to ``department`` (whom to notify)."""
    from guardian.shortcuts import get_users_with_perms

    users = get_users_with_perms(
        department, only_with_perms_in=["access_department"], with_group_users=False
    )
    return users.filter(is_active=True, profile__role__in=roles)


def branch_ids_by_user(user_ids) -> dict[int, set[int]]:
    """Branch scope of many users at once (direct grants, group grants and the global
    permission), for bulk work such as assigning visits: three queries whatever the count."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import GroupObjectPermission, UserObjectPermission

    user_ids = list(user_ids)
    scope: dict[int, set[int]] = {pk: set() for pk in user_ids}
    if not user_ids:
        return scope
    content_type = ContentType.objects.get_for_model(Branch)
    perm = Q(permission__codename=_BRANCH_CODE, permission__content_type=content_type)
    direct = UserObjectPermission.objects.filter(perm, user_id__in=user_ids).values_list(
        "user_id", "object_pk"
    )
    via_group = GroupObjectPermission.objects.filter(perm, group__user__in=user_ids).values_list(
        "group__user", "object_pk"
    )
    for user_id, object_pk in [*direct, *via_group]:
        scope[user_id].add(int(object_pk))
    global_perm = Permission.objects.filter(codename=_BRANCH_CODE, content_type__app_label=_APP)
    everywhere = set(
        get_user_model()
        .objects.filter(pk__in=user_ids)
        .filter(Q(user_permissions__in=global_perm) | Q(groups__permissions__in=global_perm))
        .values_list("pk", flat=True)
    )
    if everywhere:
        all_branches = set(Branch.objects.values_list("pk", flat=True))
        for user_id in everywhere:
            scope[user_id] |= all_branches
    return scope


def has_global_branch_scope(user) -> bool:
    """The user sees every branch (the global permission, not a grant per branch)."""
    if not user.is_authenticated:
        return False
    scope = _request_scope(user)
    if scope is not None:
        return scope.everywhere(_BRANCH_CODE)
    return user.has_perm(BRANCH_PERM)


def staff_ids_visible_to(user):
    """Ids of the members of staff granted a branch the user sees (directly or through a group):
    whose training, assessments and notifications a branch-scoped user may see."""
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import GroupObjectPermission, UserObjectPermission

    User = get_user_model()
    if has_global_branch_scope(user):
        return User.objects.values("pk")
    scope = _request_scope(user)
    if scope is not None:
        # guardian keeps object ids as text: this request's branch ids, as text.
        branch_pks = [str(pk) for pk in sorted(scope.ids(_BRANCH_CODE))]
    else:
        # guardian keeps object ids as text: the branch ids as text, in the same statement.
        branch_pks = (
            branches_visible_to(user).annotate(text_pk=Cast("pk", CharField())).values("text_pk")
        )
    perm = Q(
        permission__codename=_BRANCH_CODE,
        permission__content_type=ContentType.objects.get_for_model(Branch),
        object_pk__in=branch_pks,
    )
    direct = UserObjectPermission.objects.filter(perm).values("user_id")
    groups = GroupObjectPermission.objects.filter(perm).values("group_id")
    return User.objects.filter(Q(pk__in=direct) | Q(groups__in=groups)).values("pk")


def scope_to_branches(
    queryset: QuerySet, user, *, branch: str | None = None, staff: str | None = None
):
    """``queryset`` cut to the user's branches: through the lookup ``branch`` that leads to a
    Branch, or ``staff`` that leads to a member of staff. A user with the global permission
    keeps everything (rows with no branch included)."""
    if has_global_branch_scope(user):
        return queryset
    if branch is not None:
        lookup = "pk__in" if branch == "pk" else f"{branch}__in"
        queryset = queryset.filter(**{lookup: branch_ids_visible_to(user)})
    if staff is not None:
        queryset = queryset.filter(**{f"{staff}__in": staff_ids_visible_to(user)})
    return queryset
