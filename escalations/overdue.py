"""Monitoring: flag overdue escalations and notify once per missed deadline."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from accounts.permissions import (
    staff_of_branch,
)
from core.audit import audit
from core.audit_actions import AuditAction
from core.notifications import Mail, notify, send_mails
from escalations.actions import ACTIVE_STATUSES, Action
from escalations.models import Escalation, EscalationStep
from escalations.services import department_handlers, detail_link, format_when

logger = logging.getLogger(__name__)


# --- Monitoring -----------------------------------------------------------------------------


def _overdue_filter(now: datetime) -> Q:
    # Not yet flagged for *this* deadline: never flagged, or flagged before the deadline was
    # moved (reopened with a new deadline, or extended).
    return Q(status__in=ACTIVE_STATUSES, deadline_at__lt=now) & (
        Q(overdue_notified_at__isnull=True) | Q(overdue_notified_at__lt=F("deadline_at"))
    )


def escalation_mark_overdue(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Flag the escalations past their deadline (``overdue_count`` + 1 once per missed
    deadline), and notify the handler (or, if nobody accepted it, the department's handlers)
    and the supervisors of the account's branch, in the app and by e-mail.

    Safe to run twice or concurrently: rows are claimed with ``FOR UPDATE SKIP LOCKED`` and
    the conditional update excludes rows already flagged for this deadline; the unique
    ``dedup_key`` of each notification is the last line of defence. E-mails go out only for
    notifications created by this run. Returns the number of escalations flagged."""
    now = now or timezone.now()
    flagged = 0
    branch_supervisors: dict[int, list] = {}
    handlers_by_department: dict[int, list] = {}
    while True:
        mails: list[Mail] = []
        with transaction.atomic():
            ids = list(
                Escalation.objects.select_for_update(skip_locked=True)
                .filter(_overdue_filter(now))
                .order_by("deadline_at", "pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            Escalation.objects.filter(pk__in=ids).filter(_overdue_filter(now)).update(
                overdue_count=F("overdue_count") + 1, overdue_notified_at=now
            )
            escalations = list(
                Escalation.objects.filter(pk__in=ids).select_related(
                    "handler", "department", "account"
                )
            )
            EscalationStep.objects.bulk_create(
                [
                    EscalationStep(
                        escalation=e,
                        action=Action.OVERDUE,
                        from_status=e.status,
                        to_status=e.status,
                        at=now,
                        note=_("已超过处理时限 %(deadline)s（第 %(count)s 次超时）")
                        % {"deadline": format_when(e.deadline_at), "count": e.overdue_count},
                    )
                    for e in escalations
                ]
            )
            for e in escalations:
                if e.department_id not in handlers_by_department:
                    handlers_by_department[e.department_id] = department_handlers(e.department)
                branch_id = e.account.branch_id
                if branch_id not in branch_supervisors:
                    branch_supervisors[branch_id] = list(
                        staff_of_branch(e.account.branch, Role.SUPERVISOR)
                    )
                handlers = [e.handler] if e.handler else handlers_by_department[e.department_id]
                raised = e.overdue_count >= 2
                message = _("转办 #%(pk)s（%(department)s）已超过处理时限 %(deadline)s")
                if raised:
                    message = _(
                        "转办 #%(pk)s（%(department)s）再次超时（第 %(count)s 次），已上报监督人员"
                    )
                mails += notify(
                    [*handlers, *branch_supervisors[branch_id]],
                    message=message
                    % {
                        "pk": e.pk,
                        "department": e.department.name,
                        "deadline": format_when(e.deadline_at),
                        "count": e.overdue_count,
                    },
                    link=detail_link(e),
                    key=f"esc:{e.pk}:overdue:{e.overdue_count}",
                )
                audit(
                    AuditAction.ESCALATION_OVERDUE,
                    obj=e,
                    after={"deadline_at": e.deadline_at, "overdue_count": e.overdue_count},
                )
            flagged += len(escalations)
        send_mails(mails)
    return flagged
