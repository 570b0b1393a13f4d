"""Scoped fetches of escalations: out of scope is 404, never 403."""

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import Role
from accounts.permissions import branch_ids_visible_to, departments_visible_to, has_role
from escalations.models import Escalation


def escalations_visible_to(user) -> QuerySet[Escalation]:
    """Handlers see their departments' escalations; everyone else those of their branches."""
    if has_role(user, Role.HANDLER):
        return Escalation.objects.filter(department__in=departments_visible_to(user).values("pk"))
    return Escalation.objects.filter(
        Q(account__branch__in=branch_ids_visible_to(user))
        | Q(department__in=departments_visible_to(user).values("pk"))
    )


def escalation_for_user(user, pk) -> Escalation:
    return get_object_or_404(escalations_visible_to(user), pk=pk)
