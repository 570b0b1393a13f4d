"""The login-lockout page (django-axes' access attempts): a security administrator who clears
an account's attempts (lifts its lockout) has handled the repeated-lockout notices about it,
which are marked read for them."""

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth import get_user_model

from accounts.lockout import lockout_key_prefix
from core.notifications import notifications_read_about


def _lockout_notices_read(request, usernames) -> None:
    for user in get_user_model().objects.filter(username__in=set(usernames)):
        notifications_read_about(key=lockout_key_prefix(user), user=request.user)


class AccessAttemptAdmin(AxesAccessAttemptAdmin):
    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        _lockout_notices_read(request, [obj.username])

    def delete_queryset(self, request, queryset):
        usernames = list(queryset.values_list("username", flat=True))
        super().delete_queryset(request, queryset)
        _lockout_notices_read(request, usernames)


if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, AccessAttemptAdmin)
