"""The worklist's rows, rendered once per page in Python.

A page shows up to 70 rows of about fifteen values each. Printed by template tags and filters
(a url tag, choice and date filters, translations and an include per row) they cost most of the
page's time; here the labels of the codes, the column names and the badges are worked out once
per page (the column names go into the row's markup once), and each row is one ``str.format``
of the markup below, every value escaped with the standard library's ``html.escape`` (what
Django's ``escape`` calls, without its lazy-string check per value). The markup is exactly what
templates/visits/worklist.html printed per row (tests/workspace pin it).
"""

from dataclasses import dataclass
from datetime import datetime, tzinfo
from html import escape
from typing import NamedTuple

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from visits.models import VisitKind, VisitStatus

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


class WorklistVisit(NamedTuple):
    """What a row shows of an open visit: read as plain values in one statement
    (workspace/worklist_sql.py; no model instances: building a visit, its account, customer
    and branch for 50 rows cost the page more than the statement itself)."""

    pk: int
    kind: str
    status: str
    priority: int
    due_at: datetime
    due_provisional: bool
    callback_at: datetime | None
    suspected_fraud: bool
    phone_attempts: int
    account_number_masked: str
    customer_name: str
    branch_name: str


def worklist_order(now: datetime):
    """The worklist's order as a sort key, the same as the statement's (worklist_sql.py):
    call-backs whose time has come first, then overdue visits, then the rest; within each, by
    priority (highest first), due time and id."""

    def key(visit: WorklistVisit):
        rank = 0 if visit.callback_at is not None else (1 if visit.due_at < now else 2)
        return (rank, -visit.priority, visit.due_at, visit.pk)

    return key


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

    def markup(self, row: str) -> str:
        """``row`` with the column names in place (escaped), the values' fields left."""
        for key, label in self.labels.items():
            row = row.replace("{" + key + "}", escape(label).replace("{", "{{").replace("}", "}}"))
        return row

    def href(self, pk: int) -> str:
        return f"{self.head}{pk}{self.tail}"

    def kind(self, visit: WorklistVisit) -> str:
        return self.kinds.get(visit.kind, visit.kind)

    @property
    def provisional(self) -> SafeString:
        if self._provisional is None:
            self._provisional = mark_safe(render_to_string("partials/provisional_badge.html"))
        return self._provisional


def _local(value: datetime, pattern: str, zone: tzinfo) -> str:
    """What ``timezone.localtime`` and the date filter show, the current zone looked up once."""
    return value.astimezone(zone).strftime(pattern)


def worklist_rows(visits, *, now: datetime, near: datetime) -> list[WorklistRow]:
    """The rows of ``visits`` (``WorklistVisit``), in order: the row's class says overdue (due
    before ``now``) or near (before ``near``)."""
    page = _Page()
    zone = timezone.get_current_timezone()
    markup = page.markup(WORKLIST_ROW)
    fraud = format_html(' <span class="badge bad">{}</span>', _("疑似欺诈"))
    overdue_badge = format_html(' <span class="badge bad">{}</span>', _("逾期"))
    call_back = escape(_("回拨"))
    rows = []
    for visit in visits:
        overdue = visit.due_at < now
        callback = (
            f' <span class="badge warn">{call_back} {_local(visit.callback_at, "%H:%M", zone)}</span>'
            if visit.callback_at
            else ""
        )
        html = markup.format(
            css="overdue" if overdue else ("near" if visit.due_at < near else ""),
            pk=int(visit.pk),
            href=escape(page.href(visit.pk)),
            kind=escape(page.kind(visit)),
            fraud=fraud if visit.suspected_fraud else "",
            customer=escape(visit.customer_name),
            account=escape(visit.account_number_masked),
            branch=escape(visit.branch_name),
            priority=int(visit.priority),
            due=_local(visit.due_at, "%Y-%m-%d %H:%M", zone),
            provisional=page.provisional if visit.due_provisional else "",
            overdue=overdue_badge if overdue else "",
            callback=callback,
            status=escape(page.statuses.get(visit.status, visit.status)),
            attempts=int(visit.phone_attempts),
        )
        rows.append(WorklistRow(pk=visit.pk, html=mark_safe(html)))
    return rows


def appointment_rows(visits) -> list[WorklistRow]:
    """The rows of the call-back appointments block, by time."""
    if not visits:
        return []
    page = _Page()
    zone = timezone.get_current_timezone()
    markup = page.markup(APPOINTMENT_ROW)
    return [
        WorklistRow(
            pk=visit.pk,
            html=mark_safe(
                markup.format(
                    pk=int(visit.pk),
                    href=escape(page.href(visit.pk)),
                    callback=_local(visit.callback_at, "%Y-%m-%d %H:%M", zone),
                    kind=escape(page.kind(visit)),
                    customer=escape(visit.customer_name),
                    account=escape(visit.account_number_masked),
                )
            ),
        )
        for visit in visits
    ]
