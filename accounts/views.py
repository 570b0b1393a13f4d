from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from .models import Role
from .permissions import accounts_visible_to, role_of, role_required

# Where each role lands after login.
LANDING = {
    Role.AGENT: "visits:worklist",
    Role.TELLER: "accounts:teller",
    Role.HANDLER: "escalations:inbox",
    Role.SUPERVISOR: "supervision:dashboard",
    Role.ADMINISTRATOR: "admin:index",
    Role.SECURITY_ADMIN: "admin:index",
    Role.AUDIT_ADMIN: "supervision:audit_log",
}


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@login_required
def home(request):
    target = LANDING.get(role_of(request.user))
    if target is None:  # an account without a role: only the admin, and only for staff
        if not request.user.is_staff:
            raise PermissionDenied
        target = "admin:index"
    return redirect(target)


@role_required(Role.TELLER)
def teller(request):
    """A teller registers a special event for an account of their branch; it goes through the
    same event rules as core banking's events and shows the resulting visit."""
    from visits.forms import TellerEventForm
    from visits.services import WorkspaceError, teller_event_register

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
            )
        except WorkspaceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            result = {"event": event, "visits": visits, "account": form.account}
            form = TellerEventForm(accounts=accounts_visible_to(request.user))
    status = 400 if request.method == "POST" and result is None else 200
    return render(request, "accounts/teller.html", {"form": form, "result": result}, status=status)
