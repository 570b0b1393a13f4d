"""Showing personal data in full: only for roles allowed to, and every time written to the
audit log (PIPL; JR/T 0171 class C2). Everything else shows the masked value."""

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.lockout import security_admins
from accounts.models import Customer
from accounts.permissions import may_reveal_personal_data
from core.audit import audit
from core.audit_actions import AuditAction
from core.config import callback_int
from core.masking import mask_address, mask_id_number, mask_phone
from core.notifications import notify, send_mails

MASKERS = {
    "id_number": mask_id_number,
    "mobile": mask_phone,
    "landline": mask_phone,
    "address": mask_address,
}
REVEALABLE_FIELDS = tuple(MASKERS)


def masked(customer: Customer, field: str) -> str:
    if field not in MASKERS:
        raise ValueError(f"{field} is not a personal-data field")
    return MASKERS[field](getattr(customer, field))


def reveal_fields(
    *, user, customer: Customer, fields=REVEALABLE_FIELDS, request=None, context=None
) -> dict[str, str]:
    """The full values of ``fields`` for ``user``, logged as one ``pii.reveal`` entry (with
    the masked values only). The caller has already fetched ``customer`` through the user's
    scope (customer_for_user, visit_for_user)."""

    unknown = [f for f in fields if f not in MASKERS]
    if unknown:
        raise ValueError(f"{', '.join(unknown)} is not a personal-data field")
    if not may_reveal_personal_data(user):
        raise PermissionDenied
    audit(
        AuditAction.PII_REVEAL,
        actor=user,
        obj=customer,
        after={
            "fields": list(fields),
            "masked": {f: masked(customer, f) for f in fields},
            **(context or {}),
        },
        request=request,
    )
    return {f: getattr(customer, f) for f in fields}


def reveal(*, user, customer: Customer, field: str, request=None) -> str:
    """The full value of one field, logged as ``pii.reveal``."""
    return reveal_fields(user=user, customer=customer, fields=[field], request=request)[field]


class RevealLimitReached(PermissionDenied):
    """More reveals this hour than ``REVEAL_LIMIT_PER_HOUR``."""


def reveal_count_hour(user) -> int:
    """Count one more reveal by ``user`` this hour (shared cache) and return the count. Past
    ``REVEAL_ALERT_PER_HOUR`` the security administrators are notified (once an hour per user);
    past ``REVEAL_LIMIT_PER_HOUR`` the reveal is refused."""
    hour = timezone.now().strftime("%Y%m%d%H")
    key = f"pii-reveal:{user.pk}:{hour}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=3600)
        count = 1
    if count > callback_int("REVEAL_LIMIT_PER_HOUR", 60):
        raise RevealLimitReached
    if count == callback_int("REVEAL_ALERT_PER_HOUR", 20) + 1:
        message = _("%(user)s 本小时已查看完整个人信息超过 %(n)d 次。") % {
            "user": user.get_username(),
            "n": count - 1,
        }
        send_mails(
            notify(
                security_admins(),
                message=message,
                link=reverse("supervision:audit_log"),
                key=f"reveal-alert:{user.pk}:{hour}",
            )
        )
    return count
