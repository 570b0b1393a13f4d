"""The worklist's rows, rendered once per page in Python.

A page shows up to 70 rows of about fifteen values each. Printed by template tags and filters
(a url tag, choice and date filters, translations and an include per row) they cost most of the
page's time; here the labels of the codes, the column names and the badges are worked out once
per page, and each row is one ``format_html`` of the markup below, every value escaped. The
markup is exactly what templates/visits/worklist.html printed per row (tests/workspace pin it).
"""

from dataclasses import dataclass
from datetime import datetime

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from visits.models import Visit, VisitKind, VisitStatus

# A pk no visit has: reversed once per page, then replaced by each row's own pk.
_PK_MARK = 987654321

WORKLIST_ROW = (
    '    <tr class="{css}" data-visit="{pk}">\n'
    '      <td data-label="#"><a href="{href}">{pk}</a></td>\n'
    '      <td data-label="{l_kind}">{kind}{fraud}</td>\n'
    '      <td data-label="{l_customer}">{customer}</td>\n'
    '      <td data-label="{l_account}" class="mono">{account}</td>\n'
    '      <td data-label="{l_branch}">{branch}</td>\n'
    '      <td data-label="{l_priority}">{priority}</td>\n'
    '      <td data-label="{l_due}">{due}{provisional}{overdue}{callback}</td>\n'
    '      <td data-label="{l_status}">{status}</td>\n'
    '      <td data-label="{l_attempts}">{attempts}</td>\n'
    "    </tr>"
)
APPOINTMENT_ROW = (
    '      <tr><td data-label="#"><a href="{href}">{pk}</a></td>'
    '<td data-label="{l_callback}">{callback}</td><td data-label="{l_kind}">{kind}</td>'
    '<td data-label="{l_customer}">{customer}</td>'
    '<td data-label="{l_account}" class="mono">{account}</td></tr>'
)
_EMPTY = mark_safe("")


@dataclass(frozen=True, slots=True)
class WorklistRow:
    pk: int
    html: SafeString


class _Page:
    """What every row of one page shares: labels, badges, the link's two halves."""

    def __init__(self):
        self.head, _mark, self.tail = reverse("workspace:call_screen", args=[_PK_MARK]).partition(
            str(_PK_MARK)
        )
        self.kinds = {code: str(label) for code, label in VisitKind.choices}
        self.statuses = {code: str(label) for code, label in VisitStatus.choices}
        self.labels = {
            "l_callback": _("预约时间"), "l_kind": _("类型"), "l_customer": _("客户"),
            "l_account": _("账户"), "l_branch": _("网点"), "l_priority": _("优先级"),
            "l_due": _("到期"), "l_status": _("状态"), "l_attempts": _("尝试"),
        }  # fmt: skip
        self._provisional: SafeString | None = None

    def href(self, pk: int) -> str:
        return f"{self.head}{pk}{self.tail}"

    def kind(self, visit: Visit) -> str:
        return self.kinds.get(visit.kind, visit.kind)

    @property
    def provisional(self) -> SafeString:
        if self._provisional is None:
            self._provisional = mark_safe(render_to_string("partials/provisional_badge.html"))
        return self._provisional


def _local(value: datetime, pattern: str) -> str:
    return timezone.localtime(value).strftime(pattern)


def worklist_rows(visits, *, now: datetime, near: datetime) -> list[WorklistRow]:
    """The rows of ``visits`` (loaded with their account, customer and branch), in order: the
    row's class says overdue (due before ``now``) or near (before ``near``)."""
    page = _Page()
    fraud = format_html(' <span class="badge bad">{}</span>', _("疑似欺诈"))
    overdue_badge = format_html(' <span class="badge bad">{}</span>', _("逾期"))
    call_back = _("回拨")
    rows = []
    for visit in visits:
        overdue = visit.due_at < now
        callback = (
            format_html(
                ' <span class="badge warn">{} {}</span>',
                call_back,
                _local(visit.callback_at, "%H:%M"),
            )
            if visit.callback_at
            else _EMPTY
        )
        html = format_html(
            WORKLIST_ROW,
            css="overdue" if overdue else ("near" if visit.due_at < near else ""),
            pk=visit.pk,
            href=page.href(visit.pk),
            kind=page.kind(visit),
            fraud=fraud if visit.suspected_fraud else _EMPTY,
            customer=visit.account.customer.name,
            account=visit.account.masked_number,
            branch=visit.branch.name,
            priority=visit.priority,
            due=_local(visit.due_at, "%Y-%m-%d %H:%M"),
            provisional=page.provisional if visit.due_provisional else _EMPTY,
            overdue=overdue_badge if overdue else _EMPTY,
            callback=callback,
            status=page.statuses.get(visit.status, visit.status),
            attempts=visit.phone_attempts,
            **page.labels,
        )
        rows.append(WorklistRow(pk=visit.pk, html=html))
    return rows


def appointment_rows(visits) -> list[WorklistRow]:
    """The rows of the call-back appointments block, by time."""
    page = _Page()
    return [
        WorklistRow(
            pk=visit.pk,
            html=format_html(
                APPOINTMENT_ROW,
                pk=visit.pk,
                href=page.href(visit.pk),
                callback=_local(visit.callback_at, "%Y-%m-%d %H:%M"),
                kind=page.kind(visit),
                customer=visit.account.customer.name,
                account=visit.account.masked_number,
                **page.labels,
            ),
        )
        for visit in visits
    ]
