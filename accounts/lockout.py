"""Login lockout (django-axes, by username and address together): the page that says how long
is left, and the notice to the security administrators when one account is locked out again
and again (someone trying it from several addresses)."""

import datetime as dt
import math

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from core.audit_actions import AuditAction
from core.models import AuditLogEntry
from core.network import client_ip
from core.notifications import notify, send_mails

LOCKOUT_TEMPLATE = "429.html"
# A second lockout of the same account within this window alerts the security administrators.
REPEAT_WINDOW = dt.timedelta(hours=24)


def _cooloff() -> dt.timedelta:
    return dt.timedelta(hours=float(settings.AXES_COOLOFF_TIME))


def minutes_remaining(*, username: str, ip: str | None) -> int:
    """Whole minutes (rounded up) until the lockout of ``username`` from ``ip`` ends."""
    latest = (
        AccessAttempt.objects.filter(username=username, ip_address=ip)
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    if latest is None:
        return math.ceil(_cooloff().total_seconds() / 60)
    left = latest + _cooloff() - timezone.now()
    return max(1, math.ceil(left.total_seconds() / 60))


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the product's 429 page with the minutes left."""
    username = str((credentials or {}).get("username") or request.POST.get("username") or "")
    context = {
        "minutes_remaining": minutes_remaining(username=username, ip=client_ip(request)),
        "cooloff_timedelta": _cooloff(),
    }
    return render(request, LOCKOUT_TEMPLATE, context, status=429)


def security_admins():
    return get_user_model().objects.filter(is_active=True, profile__role=Role.SECURITY_ADMIN)


def lockout_key_prefix(user) -> str:
    """What the keys of the repeated-lockout notices about ``user`` begin with (one a day)."""
    return f"lockout:{user.pk}:"


def lockout_notice(*, username: str) -> int:
    """After a lockout has been written to the audit log: when the account was locked out at
    least twice within the window, notify the security administrators (once a day per account).
    Returns how many lockouts of the account the window holds."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        return 0
    since = timezone.now() - REPEAT_WINDOW
    count = AuditLogEntry.objects.filter(
        action=AuditAction.AUTH_LOCK_OUT,
        object_type="auth.user",
        object_id=str(user.pk),
        at__gte=since,
    ).count()
    if count >= 2:
        message = _("账户 %(username)s 在24小时内已被锁定 %(n)d 次，可能有人在多处尝试其密码。") % {
            "username": username,
            "n": count,
        }
        mails = notify(
            security_admins(),
            message=message,
            link=reverse("admin:axes_accessattempt_changelist"),
            key=f"{lockout_key_prefix(user)}{timezone.localdate().isoformat()}",
        )
        send_mails(mails)
    return count
