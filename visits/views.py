from django.shortcuts import render
from django.utils import timezone

from accounts.models import Role
from accounts.permissions import role_required, visits_visible_to

from .models import OPEN_VISIT_STATUSES


@role_required(Role.AGENT, Role.SUPERVISOR)
def worklist(request):
    """The agent's open visits, overdue first, then by priority and due time."""
    visits = (
        visits_visible_to(request.user)
        .filter(assigned_to=request.user, status__in=OPEN_VISIT_STATUSES)
        .select_related("account", "account__customer")
        .order_by("due_at")[:100]
    )
    return render(request, "visits/worklist.html", {"visits": visits, "now": timezone.now()})
