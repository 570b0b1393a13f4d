"""The worklist's three statements, written in SQL: the counts, one page of listed visits and
the call-back appointments, each with what a row shows (workspace/worklist.py renders it).

The page is the product's most used one. Built with the ORM, each of these statements cost
more to construct and compile in Python (a scope filter, a rank expression in a subquery,
three joins) than PostgreSQL took to plan and run it: about 1.5 ms each, a third of the page.
Here each is a string put together from a few fixed fragments; the same SQL runs on
PostgreSQL and SQLite (tests/visits/test_worklist.py and tests/workspace/test_worklist_rows.py
run on both). The rows are chosen by id first (index-only on ``visit_agent_open_cover``,
workspace/migrations/0006), then only those rows are read and joined.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connections, router
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Account, Branch, Customer
from visits.generation_sql import datetime_param as _at
from visits.models import OPEN_VISIT_STATUSES, Visit
from workspace.worklist import WorklistVisit, worklist_order

VISITS = Visit._meta.db_table
ACCOUNTS = Account._meta.db_table
CUSTOMERS = Customer._meta.db_table
BRANCHES = Branch._meta.db_table
OPEN = tuple(str(status) for status in OPEN_VISIT_STATUSES)
APPOINTMENTS_SHOWN = 20

# What a row shows (the fields of WorklistVisit, in order).
_ROW = (
    "v.id, v.kind, v.status, v.priority, v.due_at, v.due_provisional, v.callback_at, "
    "v.suspected_fraud, v.phone_attempts, a.number_masked, c.name, b.name"
)
_JOINS = (
    f"FROM {VISITS} v JOIN {ACCOUNTS} a ON a.id = v.account_id "
    f"JOIN {CUSTOMERS} c ON c.id = a.customer_id JOIN {BRANCHES} b ON b.id = v.branch_id"
)
# The worklist's order (worklist.worklist_order is the same key in Python): call-backs whose
# time has come, then overdue visits, then the rest; by priority, due time and id.
_ORDER = (
    "CASE WHEN u.callback_at IS NOT NULL THEN 0 WHEN u.due_at < %s THEN 1 ELSE 2 END, "
    "u.priority DESC, u.due_at, u.id"
)


@dataclass(frozen=True)
class WorklistFilter:
    """The agent's open visits within ``branch_ids`` (the agent's scope), narrowed by the
    worklist's filters."""

    agent_id: int
    branch_ids: Sequence[int]
    kind: str = ""
    status: str = ""
    branch_id: int | None = None

    def where(self) -> tuple[str, list]:
        """The condition on ``u`` (the visits table) and its parameters."""
        conditions = [
            "u.assigned_to_id = %s",
            f"u.status IN ({', '.join(['%s'] * len(OPEN))})",
            f"u.branch_id IN ({', '.join(['%s'] * len(self.branch_ids))})",
        ]
        params: list = [self.agent_id, *OPEN, *self.branch_ids]
        for column, value in (
            ("kind", self.kind),
            ("status", self.status),
            ("branch_id", self.branch_id),
        ):
            if value:
                conditions.append(f"u.{column} = %s")
                params.append(value)
        return " AND ".join(conditions), params


def _cursor():
    return connections[router.db_for_read(Visit)].cursor()


def _aware(value) -> dt.datetime | None:
    # PostgreSQL gives aware datetimes; SQLite naive ones (or text), in UTC.
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = parse_datetime(value)
        if value is None:
            raise ValueError("not a datetime")
    return value if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)


def _visits(sql: str, params: list) -> list[WorklistVisit]:
    with _cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out = []
    for pk, kind, status, priority, due_at, provisional, callback_at, fraud, *rest in rows:
        due, callback = _aware(due_at), _aware(callback_at)
        out.append(
            WorklistVisit(
                pk, kind, status, priority, due, bool(provisional), callback, bool(fraud), *rest
            )
        )
    return out


def worklist_counts(
    scope: WorklistFilter, *, now: dt.datetime, listed_until: dt.datetime, end_of_day: dt.datetime
) -> dict[str, int]:
    """open: every visit of the scope; listed: those without a call-back after
    ``listed_until`` (the others are appointments); overdue: due before ``now``; due_today:
    due from ``now`` to ``end_of_day``."""
    if not scope.branch_ids:
        return {"open": 0, "listed": 0, "overdue": 0, "due_today": 0}
    where, params = scope.where()
    sql = (
        "SELECT COUNT(*), "
        "COALESCE(SUM(CASE WHEN u.callback_at IS NULL OR u.callback_at <= %s THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN u.due_at < %s THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN u.due_at >= %s AND u.due_at < %s THEN 1 ELSE 0 END), 0) "
        f"FROM {VISITS} u WHERE {where}"
    )
    with _cursor() as cursor:
        cursor.execute(sql, [_at(listed_until), _at(now), _at(now), _at(end_of_day), *params])
        total, listed, overdue, due_today = cursor.fetchone()
    return {"open": total, "listed": listed, "overdue": overdue, "due_today": due_today}


def worklist_page(
    scope: WorklistFilter, *, now: dt.datetime, listed_until: dt.datetime, offset: int, limit: int
) -> list[WorklistVisit]:
    """``limit`` listed visits from ``offset``, in the worklist's order."""
    if not scope.branch_ids or limit <= 0:
        return []
    where, params = scope.where()
    sql = (
        f"SELECT {_ROW} {_JOINS} WHERE v.id IN ("
        f"SELECT u.id FROM {VISITS} u WHERE {where} "
        "AND (u.callback_at IS NULL OR u.callback_at <= %s) "
        f"ORDER BY {_ORDER} LIMIT %s OFFSET %s)"
    )
    # The outer statement joins the chosen ids in no particular order: the same key in Python.
    rows = _visits(sql, [*params, _at(listed_until), _at(now), limit, offset])
    return sorted(rows, key=worklist_order(now))


def worklist_appointments(
    scope: WorklistFilter, *, listed_until: dt.datetime
) -> list[WorklistVisit]:
    """The first call-back appointments after ``listed_until``, by time."""
    if not scope.branch_ids:
        return []
    where, params = scope.where()
    sql = (
        f"SELECT {_ROW} {_JOINS} WHERE v.id IN ("
        f"SELECT u.id FROM {VISITS} u WHERE {where} AND u.callback_at > %s "
        "ORDER BY u.callback_at, u.id LIMIT %s)"
    )
    rows = _visits(sql, [*params, _at(listed_until), APPOINTMENTS_SHOWN])
    return sorted(rows, key=lambda v: (v.callback_at, v.pk))


class PageSource:
    """What ``Paginator`` pages through: the count known beforehand, each page one statement."""

    def __init__(self, count: int, fetch):
        self._count = count
        self._fetch = fetch

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, window: slice) -> list[WorklistVisit]:
        start = window.start or 0
        return self._fetch(offset=start, limit=(window.stop or self._count) - start)
