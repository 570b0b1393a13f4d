"""Showing personal data in full: only for roles allowed to, and every time written to the
audit log (PIPL; JR/T 0171 class C2). Everything else shows the masked value."""

from django.core.exceptions import PermissionDenied

from .masking import mask_address, mask_id_number, mask_phone
from .models import Customer
from .permissions import may_reveal_personal_data

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


def reveal(*, user, customer: Customer, field: str, request=None) -> str:
    """The full value of ``field`` for ``user``, logged as ``pii.reveal``. The caller has
    already fetched ``customer`` through the user's scope (customer_for_user)."""
    from supervision.audit import audit

    if field not in MASKERS:
        raise ValueError(f"{field} is not a personal-data field")
    if not may_reveal_personal_data(user):
        raise PermissionDenied
    audit(
        "pii.reveal",
        actor=user,
        obj=customer,
        after={"field": field, "masked": masked(customer, field)},
        request=request,
    )
    return getattr(customer, field)
