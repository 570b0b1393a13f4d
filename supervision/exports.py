"""CSV and Excel exports of the supervision lists, streamed row by row from the database.

Every value is written in the bank's words (core/presentation.py): choice labels, 是/否, staff
by name with the username in a column of its own. Excel gets real date cells, a frozen header
row, column widths and a Chinese sheet name; CSV gets local "YYYY-MM-DD HH:MM:SS" times that
Excel reads as dates. Every cell of both goes through ``written`` (the one place values are
written).

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

from django.apps import apps
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from accounts.permissions import staff_ids_visible_to
from core import presentation
from core.masking import mask_account_number, mask_name
from escalations.access import escalations_visible_to
from supervision.models import AuditReview, MonthlyAssessment
from supervision.periods import day_bounds
from supervision.reviews import CHECKLIST
from visits.access import records_visible_to, visits_visible_to

CHUNK = 2000


@dataclass(frozen=True)
class Column:
    header: object  # a lazy translation
    field: str | tuple[str, ...]  # a tuple: the values joined (a person's name)
    mask: Callable[[str], str] | None = None
    present: Callable[[object], object] | None = None  # the stored value in words
    width: int = 12  # Excel column width, in characters
    number_format: str | None = None  # Excel number format of a numeric column
    # A stored masked copy of an encrypted field, read instead of it when masked: a masked
    # export decrypts nothing.
    masked_field: str | None = None


@dataclass(frozen=True)
class Export:
    columns: tuple[Column, ...]
    base: Callable  # user -> scoped queryset
    date_field: str | None  # filtered by ?since=&until=
    title: object = ""  # the sheet's name (a lazy translation)


def _label(model_label: str, name: str) -> Callable[[object], str]:
    """The choice label of a stored code; the labels are read once, in the export's language."""

    def present(value, cache={}):  # noqa: B006 - per-language cache of this column's labels
        key = translation.get_language()
        if key not in cache:
            field = apps.get_model(model_label)._meta.get_field(name)
            cache[key] = {code: str(label) for code, label in field.flatchoices}
        return cache[key].get(value, value)

    return present


def _yes_no(value) -> str:
    return presentation.yes_no(value)


def _checklist_columns() -> tuple[Column, ...]:
    """One column per review checklist item, headed by the item's own label, showing its answer."""
    return tuple(
        Column(
            AuditReview._meta.get_field(name).verbose_name,
            name,
            present=_label("supervision.AuditReview", name),
            width=12,
        )
        for name in CHECKLIST
    )


def _person(prefix: str, header=None, width: int = 10) -> tuple[Column, Column]:
    """A person's name and, beside it, their username (names repeat; usernames do not)."""
    return (
        Column(
            header or _("回访人员"), (f"{prefix}__first_name", f"{prefix}__last_name"), width=width
        ),
        Column(_("用户名"), f"{prefix}__username", width=12),
    )


DATETIME = 17


def _rankings(user):
    return MonthlyAssessment.objects.filter(agent__in=staff_ids_visible_to(user)).order_by(
        "month", "rank", "agent__username"
    )


def _reviews(user):
    return AuditReview.objects.filter(
        item__record__in=records_visible_to(user).values("pk")
    ).order_by("pk")


EXPORTS: dict[str, Export] = {
    "visits": Export(
        columns=(
            Column(_("编号"), "pk", width=8),
            Column(_("回访类型"), "kind", present=_label("visits.Visit", "kind")),
            Column(_("状态"), "status", present=_label("visits.Visit", "status"), width=8),
            Column(_("网点"), "branch__name", width=16),
            Column(
                _("账号"),
                "account__number",
                mask_account_number,
                width=22,
                masked_field="account__number_masked",
            ),
            Column(_("客户"), "account__customer__name", mask_name, width=10),
            Column(_("到期时间"), "due_at", width=DATETIME),
            Column(_("完成时间"), "completed_at", width=DATETIME),
            *_person("assigned_to"),
            Column(_("渠道"), "channel", present=_label("visits.Visit", "channel"), width=10),
            Column(_("优先级"), "priority", width=8),
            Column(_("疑似欺诈"), "suspected_fraud", present=_yes_no, width=8),
        ),
        base=lambda user: visits_visible_to(user).order_by("pk"),
        date_field="due_at",
        title=_("回访"),
    ),
    "records": Export(
        columns=(
            Column(_("编号"), "pk", width=8),
            Column(_("回访"), "visit_id", width=8),
            Column(_("回访类型"), "visit__kind", present=_label("visits.Visit", "kind")),
            Column(_("渠道"), "channel", present=_label("visits.VisitRecord", "channel"), width=10),
            Column(_("提交时间"), "submitted_at", width=DATETIME),
            *_person("submitted_by"),
            Column(_("网点"), "visit__branch__name", width=16),
            Column(
                _("账号"),
                "visit__account__number",
                mask_account_number,
                width=22,
                masked_field="visit__account__number_masked",
            ),
            Column(_("客户"), "visit__account__customer__name", mask_name, width=10),
            Column(_("满意度"), "satisfaction", width=8),
            Column(_("问题处理"), "handling", present=_label("visits.VisitRecord", "handling")),
            Column(_("已提示防诈骗"), "reminder_anti_fraud", present=_yes_no),
            Column(_("已提示安全操作"), "reminder_safe_operation", present=_yes_no),
        ),
        base=lambda user: records_visible_to(user).order_by("pk"),
        date_field="submitted_at",
        title=_("回访记录"),
    ),
    "escalations": Export(
        columns=(
            Column(_("编号"), "pk", width=8),
            Column(_("回访"), "visit_id", width=8),
            Column(_("部门"), "department__name", width=16),
            Column(_("紧急程度"), "urgency", present=_label("escalations.Escalation", "urgency")),
            Column(_("状态"), "status", present=_label("escalations.Escalation", "status")),
            Column(
                _("账号"),
                "account__number",
                mask_account_number,
                width=22,
                masked_field="account__number_masked",
            ),
            Column(_("转办时间"), "created_at", width=DATETIME),
            Column(_("处理时限"), "deadline_at", width=DATETIME),
            Column(_("处理完成"), "resolved_at", width=DATETIME),
            Column(_("轮次"), "round", width=6),
        ),
        base=lambda user: escalations_visible_to(user).order_by("pk"),
        date_field="created_at",
        title=_("转办"),
    ),
    "reviews": Export(
        columns=(
            Column(_("编号"), "pk", width=8),
            Column(_("样本"), "item__sample_id", width=8),
            Column(_("回访记录"), "item__record_id", width=10),
            *_person("item__agent"),
            *_person("reviewer", _("评审人")),
            *_checklist_columns(),
            Column(_("评分"), "score", width=8),
            Column(_("发现问题"), "findings", width=40),
            Column(_("完成时间"), "finished_at", width=DATETIME),
        ),
        base=_reviews,
        date_field="finished_at",
        title=_("抽查评审"),
    ),
    "rankings": Export(
        columns=(
            Column(_("月份"), "month", width=10, number_format="yyyy-mm"),
            Column(_("排名"), "rank", width=6),
            *_person("agent"),
            Column(_("完成回访"), "visits_completed", width=10),
            Column(_("接通率"), "reach_rate", width=10, number_format="0.0%"),
            Column(_("及时率"), "on_time_rate", width=10, number_format="0.0%"),
            Column(_("评分回访数"), "rated_visits", width=10),
            Column(_("平均满意度"), "raw_satisfaction", width=12, number_format="0.00"),
            Column(_("调整后满意度"), "adjusted_satisfaction", width=12, number_format="0.00"),
            Column(_("抽查得分"), "audit_score", width=10, number_format="0.0"),
            Column(_("成立投诉"), "upheld_complaints", width=10),
            Column(_("综合得分"), "composite", width=10, number_format="0.0"),
            Column(_("奖励"), "rewarded", present=_yes_no, width=8),
        ),
        base=_rankings,
        date_field=None,
        title=_("月度考核"),
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
    """Rows of typed values in words, masked per column unless ``unmasked``; read in chunks
    through a server-side cursor. Times are local (naive, as spreadsheets have no time zone)."""
    columns = EXPORTS[name].columns
    fields: list[str] = []
    spans = []  # per column: the slice of the fetched values it reads
    for column in columns:
        names = column.field if isinstance(column.field, tuple) else (column.field,)
        if column.masked_field and not unmasked:
            names = (column.masked_field,)
        spans.append(slice(len(fields), len(fields) + len(names)))
        fields.extend(names)
    masks = [None if unmasked else column.mask for column in columns]
    presents = [column.present for column in columns]
    tz = timezone.get_current_timezone()  # once: per-value lookups dominate a big export
    datetime_type = dt.datetime

    def cell(mask, present, values):
        if len(values) > 1:  # a person's name from its parts
            return " ".join(str(v) for v in values if v).strip()
        value = values[0]
        if present is not None:
            return present(value)
        if value is None:
            return ""
        if mask is not None:
            return mask(value)
        if type(value) is datetime_type:
            return value.astimezone(tz).replace(tzinfo=None, microsecond=0)
        if type(value) is float:
            return round(value, 4)
        return value

    plan = list(zip(masks, presents, spans))
    rows = queryset.values_list(*fields).iterator(chunk_size=CHUNK)
    for row in rows:
        yield [cell(mask, present, row[span]) for mask, present, span in plan]


def headers(name: str) -> list[str]:
    return [str(column.header) for column in EXPORTS[name].columns]


def sheet_title(name: str) -> str:
    """The Excel sheet's name: the list's Chinese name (at most 31 characters, none of the
    characters Excel refuses in a sheet name)."""
    title = str(EXPORTS[name].title or name)
    return "".join(ch for ch in title if ch not in "[]:*?/\\")[:31]


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A text cell a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, tab, CR at
    the start) gets a leading apostrophe, so it stays text; numbers and dates pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def written(value):
    """The one place a value becomes a cell, in CSV and in Excel alike."""
    return neutralise(value)


def _csv_text(value):
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    return value


def csv_stream(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """UTF-8 with a byte-order mark (Excel opens Chinese CSV correctly), a chunk of rows per
    yielded string so the response neither buffers everything nor yields per cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([written(_csv_text(value)) for value in row])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_file(header: list[str], rows: Iterable[list], *, title: str, name: str | None = None):
    """A write-only workbook (rows go to disk as they come) in an anonymous temporary file,
    rewound for streaming. The caller closes it (FileResponse does). With ``name`` (one of
    EXPORTS), columns get their widths and number formats; dates and times are date cells."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"
    columns = EXPORTS[name].columns if name else ()
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    formats = [column.number_format for column in columns]
    bold = Font(bold=True)
    heading = []
    for text in header:
        cell = WriteOnlyCell(sheet, value=written(text))
        cell.font = bold
        heading.append(cell)
    sheet.append(heading)

    def typed(position, value):
        value = written(value)
        fmt = formats[position] if position < len(formats) else None
        if isinstance(value, dt.datetime):
            fmt = fmt or "yyyy-mm-dd hh:mm"
        elif isinstance(value, dt.date):
            fmt = fmt or "yyyy-mm-dd"
        elif fmt is None or isinstance(value, str):
            return value
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = fmt
        return cell

    for row in rows:
        sheet.append([typed(position, value) for position, value in enumerate(row)])
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    workbook.save(handle)
    handle.seek(0)
    return handle
