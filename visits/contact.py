"""Do-not-contact (SPEC §4): a customer so marked gets no visit except suspected fraud; when
the mark is set, their open non-fraud visits are cancelled with the reason ``do_not_contact``.
The API, the admin and any other path that sets the mark call ``do_not_contact_visits_cancel``."""

from django.db import transaction

from accounts.models import Customer
from core.audit import audit
from core.audit_actions import AuditAction
from visits.models import CancelReason, Visit, VisitStatus
from visits.transitions import visits_transition


def do_not_contact_visits_cancel(*, customer: Customer, by=None, client=None, request=None) -> int:
    """Cancel the open visits of ``customer`` that are no suspected fraud, with the reason
    ``do_not_contact``; one audit entry names them. Returns how many were cancelled."""
    with transaction.atomic():
        ids = list(
            Visit.objects.open()
            .select_for_update()
            .filter(account__customer=customer, suspected_fraud=False)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not ids:
            return 0
        count = visits_transition(
            Visit.objects.open().filter(pk__in=ids),
            to=VisitStatus.CANCELLED,
            reason=CancelReason.DO_NOT_CONTACT,
        )
        audit(
            AuditAction.VISIT_CANCEL,
            obj=customer,
            after={"visits": ids, "reason": CancelReason.DO_NOT_CONTACT},
            actor=by,
            client=client,
            request=request,
        )
    return count
