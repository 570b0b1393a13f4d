"""SQL building blocks shared by the generation statements: typed VALUES lists, parameters,
chunks of account ids, the open-visit conflict clause."""

from __future__ import annotations

from datetime import date, datetime

from django.db import connection
from django.db.models import Max

from accounts.models import (
    ABNORMAL_STATUSES,
    Account,
)
from visits.models import OPEN_VISIT_STATUSES

OPEN_SQL = "(" + ", ".join(f"'{s.value}'" for s in OPEN_VISIT_STATUSES) + ")"
ABNORMAL_SQL = "(" + ", ".join(f"'{s}'" for s in ABNORMAL_STATUSES) + ")"
# The conflict target names the partial unique index one_open_visit_per_account_kind.
ON_CONFLICT = f"ON CONFLICT (account_id, kind) WHERE status IN {OPEN_SQL} DO NOTHING"

VISIT_COLUMNS = (
    "account_id, branch_id, kind, status, priority, suspected_fraud, due_at, channel, "
    "phone_attempts, policy_id, policy_version, reason, unreachable_reason, cancelled_reason, "
    "created_at, updated_at"
)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def without_jit(cursor) -> None:
    """No JIT compilation for the rest of the current transaction (PostgreSQL). Each generation
    statement is estimated far above jit_above_cost (the planner cannot see that the customer
    probe returns one row per account), so PostgreSQL compiled its expressions every time:
    about 40 ms of LLVM per statement on the benchmark machine, 21 statements for 1,000,000
    accounts (bench/generate.py: a run with nothing to do went from 2.4-2.6 s to 2.0 s), for
    statements whose expressions run on 50,000 rows at most. ``SET LOCAL``: the setting ends with the
    transaction, the connection keeps its own."""
    if is_postgres():
        cursor.execute("SET LOCAL jit = off")


def typed(sql_type: str) -> str:
    # PostgreSQL needs the types of VALUES columns; SQLite's CAST would mangle dates.
    return f"CAST(%s AS {sql_type})" if is_postgres() else "%s"


def values_cte(name: str, columns: list[tuple[str, str]], rows: list[tuple]) -> tuple[str, list]:
    row_sql = "(" + ", ".join(typed(t) for _, t in columns) + ")"
    sql = (
        f"{name}({', '.join(c for c, _ in columns)}) AS (VALUES {', '.join([row_sql] * len(rows))})"
    )
    return sql, [value for row in rows for value in row]


def date_param(d: date):
    return connection.ops.adapt_datefield_value(d)


def datetime_param(dt: datetime):
    return connection.ops.adapt_datetimefield_value(dt)


def id_chunks(chunk_size: int, first: int = 0, last: int | None = None):
    """(lo, hi] bounds of consecutive account-id chunks within (first, last]: keyset
    pagination, one index probe per chunk, whatever the table size."""
    accounts = Account.objects.all() if last is None else Account.objects.filter(pk__lte=last)
    lo = first
    while True:
        hi = (
            accounts.filter(pk__gt=lo)
            .order_by("pk")
            .values_list("pk", flat=True)[chunk_size - 1 : chunk_size]
            .first()
        )
        if hi is None:
            hi = accounts.filter(pk__gt=lo).aggregate(m=Max("pk"))["m"]
            if hi is None:
                return
        yield lo, hi
        lo = hi


def account_ranges(parts: int) -> list[tuple[int, int]]:
    """``parts`` (lo, hi] account-id ranges of about equal size covering every account: the
    work units of a generation split over several workers."""
    total = Account.objects.count()
    if total == 0:
        return []
    size = max(-(-total // parts), 1)
    return list(id_chunks(size))
