from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect

from .models import Role
from .permissions import role_of

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
    if target is None:
        return redirect("admin:index") if request.user.is_staff else redirect("logout")
    try:
        return redirect(target)
    except Exception:  # noqa: BLE001 - landing page of a later issue not there yet
        return redirect("admin:index")
