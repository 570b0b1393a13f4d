"""Loading a year's holiday plan into the business calendar, and what loading it recomputes.

Two sources: the official plans of the `holidays` package (FIRST_OFFICIAL_YEAR to
LAST_OFFICIAL_YEAR), and a plan file an administrator enters for a later year (admin page or
``manage.py load_calendar YEAR --file plan.csv|json``; format in docs/CALENDAR.md: every date of
the year exactly once). ``calendar_year_load`` writes the year, recomputes every provisional due
time (the apps above register what they own with ``register_recompute``) and writes the audit
entry, in one transaction.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import holidays
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit
from core.audit_actions import AuditAction
from core.calendar import FIRST_OFFICIAL_YEAR, LAST_OFFICIAL_YEAR, BusinessCalendar
from core.models import CalendarDay, CalendarYear

logger = logging.getLogger(__name__)

OFFICIAL_SOURCE = "holidays {version} (国务院办公厅节假日安排)"

# A plan as the calendar keeps it: the exceptions to the Monday-Friday week.
PlanDays = list[tuple[date, bool, str]]


class CalendarLoadError(Exception):
    pass


# --- Official plans ----------------------------------------------------------------------------


def official_days(year: int) -> PlanDays:
    """(date, is_working_day, name) for every exception to the Monday-Friday week in ``year``,
    from the `holidays` package: holidays (not working) and 调休 weekend workdays (working).
    Years the package only estimates (no makeup workdays) are refused, never guessed."""
    if not FIRST_OFFICIAL_YEAR <= year <= LAST_OFFICIAL_YEAR:
        raise CalendarLoadError(
            _(
                "%(year)s：holidays 软件包没有该年的官方安排（官方覆盖 %(first)s-%(last)s）；"
                "请用 --file 导入国务院办公厅公布的安排，或在管理后台上传。"
            )
            % {"year": year, "first": FIRST_OFFICIAL_YEAR, "last": LAST_OFFICIAL_YEAR}
        )
    china = holidays.China(years=year, language="zh_CN")
    days: dict[date, tuple[bool, str]] = {}
    for day, name in china.items():
        if day.year == year:
            days[day] = (False, str(name)[:100])
    for day in china.weekend_workdays:
        if day.year == year:
            days[day] = (True, "调休上班")
    return [(day, working, name) for day, (working, name) in sorted(days.items())]


def official_source() -> str:
    return OFFICIAL_SOURCE.format(version=holidays.__version__)[:100]


# --- Plan files --------------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "y", "是", "班", "上班"}
_FALSE = {"0", "false", "no", "n", "否", "休", "休息"}
_MAX_LISTED = 5
# (where in the file, date, working, name) as read, before validation.
_Row = tuple[str, Any, Any, Any]


def _working(value, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CalendarLoadError(
        _("%(where)s：working 应为 1 或 0（上班 / 休息），收到 %(value)r")
        % {"where": where, "value": value}
    )


def _rows_from_csv(text: str) -> list[_Row]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = {c.strip() for c in (reader.fieldnames or [])}
    if not {"date", "working"} <= columns:
        raise CalendarLoadError(
            _("CSV 文件第一行应为列名 date,working,name（收到：%(columns)s）")
            % {"columns": ",".join(reader.fieldnames or []) or "-"}
        )
    rows = []
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip(): v for k, v in row.items()}
        rows.append(
            (_("第 %(n)s 行") % {"n": number}, row.get("date"), row.get("working"), row.get("name"))
        )
    return rows


def _rows_from_json(text: str) -> list[_Row]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CalendarLoadError(_("JSON 格式错误：%(error)s") % {"error": exc}) from exc
    if isinstance(data, dict):
        data = data.get("days")
    if not isinstance(data, list):
        raise CalendarLoadError(_('JSON 文件应为日期对象的列表，或 {"days": [...]}'))
    rows = []
    for index, item in enumerate(data):
        where = _("第 %(n)s 项") % {"n": index + 1}
        if not isinstance(item, dict):
            raise CalendarLoadError(
                _('%(where)s：应为 {"date", "working", "name"} 对象') % {"where": where}
            )
        rows.append((where, item.get("date"), item.get("working"), item.get("name")))
    return rows


def plan_parse(*, year: int, text: str, file_format: str) -> PlanDays:
    """Validate a plan file: every date of ``year`` exactly once, each working (1) or not (0).
    Returns the exceptions to the Monday-Friday week. Raises ``CalendarLoadError`` naming the
    line or item and the dates at fault."""
    if file_format == "csv":
        rows = _rows_from_csv(text)
    elif file_format == "json":
        rows = _rows_from_json(text)
    else:
        raise CalendarLoadError(
            _("不支持的文件格式 %(format)s：请使用 .csv 或 .json") % {"format": file_format}
        )
    seen: dict[date, tuple[bool, str]] = {}
    for where, raw_date, raw_working, raw_name in rows:
        try:
            day = date.fromisoformat(str(raw_date or "").strip())
        except ValueError:
            raise CalendarLoadError(
                _("%(where)s：日期 %(value)r 无效，应为 YYYY-MM-DD")
                % {"where": where, "value": raw_date}
            ) from None
        if day.year != year:
            raise CalendarLoadError(
                _("%(where)s：%(date)s 不属于 %(year)s 年")
                % {"where": where, "date": day, "year": year}
            )
        if day in seen:
            raise CalendarLoadError(
                _("%(where)s：%(date)s 重复出现") % {"where": where, "date": day}
            )
        if raw_working is None or str(raw_working).strip() == "":
            raise CalendarLoadError(
                _("%(where)s：缺少 working（1 上班 / 0 休息）") % {"where": where}
            )
        seen[day] = (_working(raw_working, where), str(raw_name or "").strip()[:100])
    every_day = [date(year, 1, 1) + timedelta(days=n) for n in range(366)]
    missing = [d.isoformat() for d in every_day if d.year == year and d not in seen]
    if missing:
        listed = ", ".join(missing[:_MAX_LISTED]) + (" …" if len(missing) > _MAX_LISTED else "")
        raise CalendarLoadError(
            _("缺少 %(count)s 个日期：%(dates)s（文件须列出该年每一天，且每天仅一次）")
            % {"count": len(missing), "dates": listed}
        )
    plan = []
    for day, (working, name) in sorted(seen.items()):
        if working != (day.weekday() < 5):
            plan.append((day, working, name or (_("调休上班") if working else _("休息日"))))
    return plan


# --- Recomputing provisional due times --------------------------------------------------------

# name -> function(calendar) -> number of due times changed. Registered by the apps that own
# rows with a provisional due time (visits, escalations, complaints), in their AppConfig.ready.
_recomputers: dict[str, Callable[[BusinessCalendar], int]] = {}


def register_recompute(name: str, function: Callable[[BusinessCalendar], int]) -> None:
    _recomputers[name] = function


def provisional_recompute() -> dict[str, int]:
    """Recompute every provisional due time with the calendar as it is now."""
    calendar = BusinessCalendar()
    return {name: function(calendar) for name, function in sorted(_recomputers.items())}


# --- The service -------------------------------------------------------------------------------


def calendar_year_load(
    *,
    year: int,
    days: PlanDays | None = None,
    source: str = "",
    force: bool = False,
    actor=None,
    request=None,
) -> dict:
    """Load ``year``: the official plan when ``days`` is None, else the given exceptions (from
    ``plan_parse``). Refuses a year already loaded unless ``force`` (which replaces its days).
    Recomputes the provisional due times of open visits, escalations and complaints, and
    writes the audit entry. Returns {"days": n, "recomputed": {name: n}}."""
    if days is None:
        days = official_days(year)
        source = official_source()
    source = (source or _("管理员导入")).strip()[:100]
    with transaction.atomic():
        if CalendarYear.objects.filter(year=year).exists() and not force:
            raise CalendarLoadError(_("%(year)s 年已导入；如需替换请使用 --force") % {"year": year})
        CalendarDay.objects.filter(
            date__gte=date(year, 1, 1), date__lte=date(year, 12, 31)
        ).delete()
        CalendarDay.objects.bulk_create(
            [CalendarDay(date=d, is_working_day=w, name=name) for d, w, name in days]
        )
        CalendarYear.objects.update_or_create(
            year=year, defaults={"source": source, "loaded_at": timezone.now()}
        )
        recomputed = provisional_recompute()
        audit(
            AuditAction.CALENDAR_YEAR_LOAD,
            actor=actor,
            object_type="core.calendaryear",
            object_id=year,
            after={
                "source": source,
                "exceptions": len(days),
                "replaced": force,
                "recomputed": recomputed,
            },
            request=request,
        )
    logger.info(
        "calendar loaded", extra={"year": year, "days": len(days), "recomputed": recomputed}
    )
    return {"days": len(days), "recomputed": recomputed}
