"""CSV and Excel exports of the supervision lists, streamed row by row from the database.

Personal data (customer names, account numbers) is masked unless the caller asked for it and
``may_reveal_personal_data`` allows it; the view audit-logs every export. Phone numbers, ID
numbers and addresses are never exported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.masking import mask_account_number, mask_name
from escalations.access import escalations_visible_to
from supervision.models import AuditReview, MonthlyAssessment
from supervision.periods import day_bounds
from visits.access import records_visible_to, visits_visible_to

CHUNK = 2000


@dataclass(frozen=True)
class Column:
    header: object  # a lazy translation
    field: str
    mask: Callable[[str], str] | None = None


@dataclass(frozen=True)
class Export:
    columns: tuple[Column, ...]
    base: Callable  # user -> scoped queryset
    date_field: str | None  # filtered by ?since=&until=


def _rankings(user):
    return MonthlyAssessment.objects.order_by("month", "rank", "agent__username")


def _reviews(user):
    return AuditReview.objects.filter(
        item__record__in=records_visible_to(user).values("pk")
    ).order_by("pk")


EXPORTS: dict[str, Export] = {
    "visits": Export(
        columns=(
            Column(_("编号"), "pk"),
            Column(_("回访类型"), "kind"),
            Column(_("状态"), "status"),
            Column(_("网点"), "branch__code"),
            Column(_("账号"), "account__number", mask_account_number),
            Column(_("客户"), "account__customer__name", mask_name),
            Column(_("到期时间"), "due_at"),
            Column(_("完成时间"), "completed_at"),
            Column(_("回访人员"), "assigned_to__username"),
            Column(_("渠道"), "channel"),
            Column(_("优先级"), "priority"),
        ),
        base=lambda user: visits_visible_to(user).order_by("pk"),
        date_field="due_at",
    ),
    "records": Export(
        columns=(
            Column(_("编号"), "pk"),
            Column(_("回访"), "visit_id"),
            Column(_("回访类型"), "visit__kind"),
            Column(_("渠道"), "channel"),
            Column(_("提交时间"), "submitted_at"),
            Column(_("回访人员"), "submitted_by__username"),
            Column(_("网点"), "visit__branch__code"),
            Column(_("账号"), "visit__account__number", mask_account_number),
            Column(_("客户"), "visit__account__customer__name", mask_name),
            Column(_("满意度"), "satisfaction"),
            Column(_("问题处理"), "handling"),
            Column(_("已提示防诈骗"), "reminder_anti_fraud"),
            Column(_("已提示安全操作"), "reminder_safe_operation"),
        ),
        base=lambda user: records_visible_to(user).order_by("pk"),
        date_field="submitted_at",
    ),
    "escalations": Export(
        columns=(
            Column(_("编号"), "pk"),
            Column(_("回访"), "visit_id"),
            Column(_("部门"), "department__name"),
            Column(_("紧急程度"), "urgency"),
            Column(_("状态"), "status"),
            Column(_("账号"), "account__number", mask_account_number),
            Column(_("转办时间"), "created_at"),
            Column(_("处理时限"), "deadline_at"),
            Column(_("处理完成"), "resolved_at"),
            Column(_("轮次"), "round"),
        ),
        base=lambda user: escalations_visible_to(user).order_by("pk"),
        date_field="created_at",
    ),
    "reviews": Export(
        columns=(
            Column(_("编号"), "pk"),
            Column(_("样本"), "item__sample_id"),
            Column(_("回访记录"), "item__record_id"),
            Column(_("回访人员"), "item__agent__username"),
            Column(_("评审人"), "reviewer__username"),
            Column(_("记录完整"), "record_complete"),
            Column(_("表明身份"), "identity_stated"),
            Column(_("遵循话术"), "script_followed"),
            Column(_("已作安全提示"), "reminders_given"),
            Column(_("问题及时处理"), "handled_in_time"),
            Column(_("转办合理"), "escalation_justified"),
            Column(_("评分"), "score"),
            Column(_("发现问题"), "findings"),
            Column(_("完成时间"), "finished_at"),
        ),
        base=_reviews,
        date_field="finished_at",
    ),
    "rankings": Export(
        columns=(
            Column(_("月份"), "month"),
            Column(_("排名"), "rank"),
            Column(_("回访人员"), "agent__username"),
            Column(_("完成回访"), "visits_completed"),
            Column(_("接通率"), "reach_rate"),
            Column(_("及时率"), "on_time_rate"),
            Column(_("评分回访数"), "rated_visits"),
            Column(_("平均满意度"), "raw_satisfaction"),
            Column(_("调整后满意度"), "adjusted_satisfaction"),
            Column(_("抽查得分"), "audit_score"),
            Column(_("成立投诉"), "upheld_complaints"),
            Column(_("综合得分"), "composite"),
            Column(_("奖励"), "rewarded"),
        ),
        base=_rankings,
        date_field=None,
    ),
}


def export_queryset(
    name: str,
    *,
    user,
    since: dt.date | None = None,
    until: dt.date | None = None,
    month: dt.date | None = None,
) -> QuerySet:
    spec = EXPORTS[name]
    queryset = spec.base(user)
    if spec.date_field and (since or until):
        start, end = day_bounds(since or dt.date(1970, 1, 1), until or timezone.localdate())
        queryset = queryset.filter(
            **{f"{spec.date_field}__gte": start, f"{spec.date_field}__lt": end}
        )
    if name == "rankings" and month is not None:
        queryset = queryset.filter(month=month.replace(day=1))
    return queryset


def export_rows(name: str, queryset: QuerySet, *, unmasked: bool) -> Iterator[list]:
    """Rows of plain values, masked per column unless ``unmasked``; read in chunks through a
    server-side cursor. Times are local ISO 8601 with their offset."""
    columns = EXPORTS[name].columns
    masks = [None if unmasked else column.mask for column in columns]
    tz = timezone.get_current_timezone()  # once: per-value lookups dominate a big export
    datetime_type = dt.datetime

    def cell(mask, value):
        if value is None:
            return ""
        if mask is not None:
            return mask(value)
        if type(value) is datetime_type:
            return value.astimezone(tz).isoformat(" ", "seconds")
        if type(value) is float:
            return round(value, 4)
        return value

    rows = queryset.values_list(*(column.field for column in columns)).iterator(chunk_size=CHUNK)
    for row in rows:
        yield [cell(mask, value) for mask, value in zip(masks, row)]


def headers(name: str) -> list[str]:
    return [str(column.header) for column in EXPORTS[name].columns]


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A text cell a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, tab, CR at
    the start) gets a leading apostrophe, so it stays text; numbers and dates pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_stream(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """UTF-8 with a byte-order mark (Excel opens Chinese CSV correctly), a chunk of rows per
    yielded string so the response neither buffers everything nor yields per cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([neutralise(value) for value in row])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_file(header: list[str], rows: Iterable[list], *, title: str):
    """A write-only workbook (rows go to disk as they come) in an anonymous temporary file,
    rewound for streaming. The caller closes it (FileResponse does)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(header)
    for row in rows:
        sheet.append([neutralise(value) for value in row])
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    workbook.save(handle)
    handle.seek(0)
    return handle
