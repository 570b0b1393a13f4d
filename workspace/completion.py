"""What completing a visit does, whatever the channel that completed it: the agent's phone
record, the customer's SMS reply "1" or the online questionnaire.

1. the visit becomes completed through the transition table (completion time, no call-back,
   the holder kept);
2. a follow-up visit settles the escalations it follows up with the customer's answer
   (``record.resolution_satisfied``): satisfied closes them, unsatisfied reopens them with the
   customer's words;
3. one ``visit.complete`` audit entry, naming the record and the channel.
"""

from datetime import datetime

from core.audit import audit
from core.audit_actions import AuditAction
from escalations.services import escalation_follow_up_outcome
from visits.models import Visit, VisitKind, VisitRecord, VisitStatus
from visits.transitions import visit_transition


def visit_complete(
    *,
    visit: Visit,
    record: VisitRecord,
    by=None,
    words: str = "",
    details: dict | None = None,
    now: datetime | None = None,
) -> Visit:
    """Complete ``visit`` with its just-submitted ``record``. The caller holds the visit's row
    lock inside its transaction, so that the record, the status, the escalations and the audit
    entry are stored together or not at all. ``by`` is the agent (None for the customer's own
    channels); ``words`` are the customer's words on the escalation's result; ``details`` go
    into the audit entry."""
    before = visit.status
    visit_transition(visit=visit, to=VisitStatus.COMPLETED, by=by, now=now)
    if visit.kind == VisitKind.FOLLOW_UP and record.resolution_satisfied is not None:
        escalation_follow_up_outcome(
            visit=visit, satisfied=record.resolution_satisfied, words=words, by=by
        )
    audit(
        AuditAction.VISIT_COMPLETE,
        actor=by,
        obj=visit,
        before={"status": before},
        after={
            "status": visit.status,
            "record": record.pk,
            "channel": record.channel,
            **(details or {}),
        },
    )
    return visit
