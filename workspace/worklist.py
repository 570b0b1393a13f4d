"""The worklist's rows as plain values.

Everything a row shows (labels of its codes, local times, the link to its call screen, the row's
class) is worked out here once per page in Python, so the template prints strings and tests
flags, with no filter, tag or include per row. A row built per cell by template filters cost
about a millisecond; a page shows up to 70 of them."""

from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse
from django.utils import timezone

from visits.models import Visit, VisitKind, VisitStatus

# A pk no visit has: reversed once per page, then replaced by each row's own pk.
_PK_MARK = 987654321


@dataclass(frozen=True, slots=True)
class WorklistRow:
    pk: int
    href: str
    css: str  # "overdue", "near" or ""
    kind: str
    suspected_fraud: bool
    customer: str
    account: str
    branch: str
    priority: int
    due: str  # local "YYYY-MM-DD HH:MM"
    due_provisional: bool
    overdue: bool
    callback: str  # local "YYYY-MM-DD HH:MM" of the call-back appointment, or ""
    callback_time: str  # its "HH:MM", or ""
    status: str
    attempts: int


def _local(value: datetime | None, pattern: str) -> str:
    return timezone.localtime(value).strftime(pattern) if value is not None else ""


def worklist_rows(visits, *, now: datetime, near: datetime) -> list[WorklistRow]:
    """The rows of ``visits`` (loaded with their account, customer and branch), in order."""
    head, _, tail = reverse("workspace:call_screen", args=[_PK_MARK]).partition(str(_PK_MARK))
    kinds = {code: str(label) for code, label in VisitKind.choices}
    statuses = {code: str(label) for code, label in VisitStatus.choices}
    rows = []
    for visit in visits:
        visit: Visit
        overdue = visit.due_at < now
        rows.append(
            WorklistRow(
                pk=visit.pk,
                href=f"{head}{visit.pk}{tail}",
                css="overdue" if overdue else ("near" if visit.due_at < near else ""),
                kind=kinds.get(visit.kind, visit.kind),
                suspected_fraud=visit.suspected_fraud,
                customer=visit.account.customer.name,
                account=visit.account.masked_number,
                branch=visit.branch.name,
                priority=visit.priority,
                due=_local(visit.due_at, "%Y-%m-%d %H:%M"),
                due_provisional=visit.due_provisional,
                overdue=overdue,
                callback=_local(visit.callback_at, "%Y-%m-%d %H:%M"),
                callback_time=_local(visit.callback_at, "%H:%M"),
                status=statuses.get(visit.status, visit.status),
                attempts=visit.phone_attempts,
            )
        )
    return rows
