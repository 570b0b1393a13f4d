"""Login hardening after authentication: the second factor and the maximum password age."""

import datetime as dt
from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from accounts.otp import confirmed_device, second_factor_required

# Paths a user who still owes a second factor or a new password may reach.
_OPEN_PREFIXES = ("/security/", "/logout/", "/login/", "/i18n/", "/static/", "/api/v1/health")


class SecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(_OPEN_PREFIXES)
            and not hasattr(user, "has_scope")  # an API service client
        ):
            target = self._redirect_for(request, user)
            if target:
                return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    def _redirect_for(self, request, user) -> str | None:
        if second_factor_required(user) and not user.is_verified():
            if confirmed_device(user) is None:
                return reverse("security:otp_setup")
            return reverse("security:otp_verify")
        max_age = settings.CALLBACK.get("PASSWORD_MAX_AGE_DAYS", 0)
        profile = getattr(user, "profile", None)
        if max_age and profile is not None:
            if profile.password_changed_at < timezone.now() - dt.timedelta(days=max_age):
                return reverse("security:password_change")
        return None
