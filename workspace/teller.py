"""The teller's page: a special event registered at the counter goes through the same idempotent
event writer as core banking's events."""

from django.shortcuts import render

from accounts.models import Role
from accounts.permissions import accounts_visible_to, role_required
from workspace.forms import TellerEventForm
from workspace.services import WorkspaceError, teller_event_register


@role_required(Role.TELLER)
def teller(request):
    """A teller registers a special event for an account of their branch; it goes through the
    same event rules as core banking's events and shows the resulting visit."""
    form = TellerEventForm(request.POST or None, accounts=accounts_visible_to(request.user))
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            event, visits = teller_event_register(
                teller=request.user,
                account=form.account,
                event_type=form.cleaned_data["event_type"],
                fields=form.cleaned_data.get("changed_fields") or [],
                text=form.cleaned_data.get("text", ""),
                event_id=form.cleaned_data.get("event_id", ""),
            )
        except WorkspaceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            result = {"event": event, "visits": visits, "account": form.account}
            form = TellerEventForm(accounts=accounts_visible_to(request.user))
    status = 400 if request.method == "POST" and result is None else 200
    return render(request, "accounts/teller.html", {"form": form, "result": result}, status=status)
