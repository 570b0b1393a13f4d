"""What completing a visit does, whatever the channel that completed it: the agent's phone
record, the customer's SMS reply "1" or the online questionnaire.

1. the visit becomes completed through the transition table (completion time, no call-back,
   the holder kept);
2. a follow-up visit settles the escalations it follows up with the customer's answer
   (``record.resolution_satisfied``): satisfied closes them, unsatisfied reopens them with the
   customer's words;
3. one ``visit.complete`` audit entry, naming the record and the channel.

A customer who does not recognise transactions, denied one by one on the phone or answered
"not my transactions" in the online questionnaire, raises the same suspected-fraud escalation
(``transactions_denied_escalate``).
"""

from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import AccountEvent
from accounts.services import security_department
from core.audit import audit
from core.audit_actions import AuditAction
from core.calendar import business_tz
from escalations.models import Escalation, Urgency
from escalations.services import escalation_follow_up_outcome, escalation_open
from visits.models import Channel, Visit, VisitKind, VisitRecord, VisitStatus
from visits.transitions import visit_transition


def transactions_denied_escalate(
    *, visit: Visit, record: VisitRecord, events: Sequence[AccountEvent], by=None
) -> Escalation:
    """A suspected fraud (SPEC §4): escalated urgently to the security department (the setting
    SECURITY_DEPARTMENT_CODE), linked to the record, whatever the channel. ``events`` are the
    transactions concerned: those denied on the phone; online, the transactions the visit is
    about (none for a visit that listed none: the customer's answer stands alone), each at
    Beijing time. ``by`` is the agent, None for the customer's own channel."""
    lines = "; ".join(
        f"{timezone.localtime(e.occurred_at, business_tz()):%Y-%m-%d %H:%M} "
        f"{e.amount or ''} {e.currency} {e.channel}".strip()
        for e in events
    )
    if record.channel == Channel.ONLINE:
        description = gettext("客户在线上问卷中否认近期交易为本人或授权操作，疑似欺诈：%(lines)s")
        lines = lines or gettext("（回访未列出具体交易，请核查近期全部交易）")
    else:
        description = gettext("客户否认交易，疑似欺诈：%(lines)s")
    return escalation_open(
        visit=visit,
        department=security_department(),
        urgency=Urgency.URGENT,
        description=description % {"lines": lines},
        by=by,
        record=record,
    )


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
