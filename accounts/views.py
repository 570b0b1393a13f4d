from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.models import Role
from accounts.permissions import role_of

# Where each role lands after login.
LANDING = {
    Role.AGENT: "workspace:worklist",
    Role.TELLER: "workspace:teller",
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


@require_POST
def session_keepalive(request):
    """Answers "stay signed in": any request saves the session again (SESSION_SAVE_EVERY_REQUEST), so
    this only answers whether there still is one (204) or not (401)."""
    if not request.user.is_authenticated:
        return HttpResponse(status=401)
    request.session.modified = True
    return HttpResponse(status=204)
