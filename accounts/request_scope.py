"""The branch and department scope of a user, read once per request.

A staff page asks "which branches does this user see?" several times (the filter, the figures,
the escalations, the staff of those branches); through django-guardian each ask costs the
user's and the groups' permission lists and a permission subquery. ``RequestScopeMiddleware``
opens a memo for the length of one request only: the first ask reads the scope in one statement
(direct grants, group grants and the global permissions of both kinds), later asks in the same
request reuse it. Nothing is kept across requests: the memo is dropped when the response is
built, so a grant or a revocation counts from the user's next request. Within a request, any
change to permissions, groups or grants (signals below) empties the memo.

Outside a request (Celery tasks, management commands, services called directly) there is no
memo and ``accounts.permissions`` reads through guardian as before.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models.signals import m2m_changed, post_delete, post_save
from guardian.models import GroupObjectPermission, UserObjectPermission

ANY = "*"  # the object id standing for a global permission in the scope statement

_memo: ContextVar[dict | None] = ContextVar("accounts_request_scope", default=None)


@dataclass(frozen=True)
class Scope:
    """Per permission codename: ``None`` for everywhere (global), else the object ids."""

    grants: dict[str, frozenset[int] | None]

    def everywhere(self, codename: str) -> bool:
        return codename in self.grants and self.grants[codename] is None

    def ids(self, codename: str) -> frozenset[int]:
        return self.grants.get(codename) or frozenset()


class RequestScopeMiddleware:
    """Opens the per-request memo (after authentication) and drops it with the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _memo.set({})
        try:
            return self.get_response(request)
        finally:
            _memo.reset(token)


def scope_of(user, app_label: str, codenames: tuple[str, ...]) -> Scope | None:
    """The user's scope for ``codenames`` from this request's memo (read once), or ``None``
    outside a request or for a user this memo does not serve (inactive, unsaved)."""
    memo = _memo.get()
    if memo is None or not getattr(user, "is_active", False) or user.pk is None:
        return None
    key = (user.pk, app_label, codenames)
    scope = memo.get(key)
    if scope is None:
        scope = memo[key] = _read_scope(user, app_label, codenames)
    return scope


def _read_scope(user, app_label: str, codenames: tuple[str, ...]) -> Scope:
    """One statement: the object ids granted to the user or to their groups, and ``*`` for a
    permission held globally (by the user or a group), per codename. A superuser holds every
    permission everywhere, as in guardian and ``ModelBackend``. Read from the primary database
    (a revocation counts at once, whatever replica a page reads its figures from)."""
    if user.is_superuser:
        return Scope({code: None for code in codenames})
    marks = ", ".join(["%s"] * len(codenames))
    params: list = []
    for _part in range(4):
        params += [user.pk, app_label, *codenames]
    ids: dict[str, set[int]] = {code: set() for code in codenames}
    everywhere: set[str] = set()
    with connection.cursor() as cursor:
        cursor.execute(_scope_sql().format(codes=marks), params)
        for codename, object_pk in cursor.fetchall():
            if object_pk == ANY:
                everywhere.add(codename)
            else:
                ids[codename].add(int(object_pk))
    return Scope({code: None if code in everywhere else frozenset(ids[code]) for code in codenames})


@functools.cache
def _scope_sql() -> str:
    """The scope statement (table names from the models; written once per process: building
    it through the ORM cost more than the two permission queries it replaces)."""
    User = get_user_model()
    permission = Permission._meta.db_table
    content_type = ContentType._meta.db_table
    user_groups = User.groups.through._meta.db_table
    perm = (
        f"JOIN {permission} p ON p.id = o.permission_id "
        f"JOIN {content_type} c ON c.id = p.content_type_id"
    )
    where = "c.app_label = %s AND p.codename IN ({codes})"
    return " UNION ".join(
        [
            f"SELECT p.codename, o.object_pk FROM {UserObjectPermission._meta.db_table} o {perm} "
            f"WHERE o.user_id = %s AND {where}",
            f"SELECT p.codename, o.object_pk FROM {GroupObjectPermission._meta.db_table} o {perm} "
            f"JOIN {user_groups} ug ON ug.group_id = o.group_id WHERE ug.user_id = %s AND {where}",
            f"SELECT p.codename, '{ANY}' FROM {User.user_permissions.through._meta.db_table} o "
            f"{perm} WHERE o.user_id = %s AND {where}",
            f"SELECT p.codename, '{ANY}' FROM {Group.permissions.through._meta.db_table} o {perm} "
            f"JOIN {user_groups} ug ON ug.group_id = o.group_id WHERE ug.user_id = %s AND {where}",
        ]
    )


def scope_forget(**kwargs) -> None:
    """Empties this request's memo (a permission, group or grant changed within it)."""
    memo = _memo.get()
    if memo is not None:
        memo.clear()


def scope_signals_connect() -> None:
    """Called once from ``AccountsConfig.ready``."""
    User = get_user_model()
    for model in (UserObjectPermission, GroupObjectPermission, Group, Permission):
        post_save.connect(scope_forget, sender=model, dispatch_uid=f"scope_forget_save_{model}")
        post_delete.connect(scope_forget, sender=model, dispatch_uid=f"scope_forget_del_{model}")
    post_save.connect(scope_forget, sender=User, dispatch_uid="scope_forget_user")
    for through in (
        User.groups.through,
        User.user_permissions.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(scope_forget, sender=through, dispatch_uid=f"scope_forget_{through}")
