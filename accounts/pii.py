"""Showing personal data in full: only for roles allowed to, and every time written to the
audit log (PIPL; JR/T 0171 class C2). Everything else shows the masked value."""

from django.core.exceptions import PermissionDenied

from accounts.models import Customer
from accounts.permissions import may_reveal_personal_data
from core.audit import audit
from core.audit_actions import AuditAction
from core.masking import mask_address, mask_id_number, mask_phone

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
