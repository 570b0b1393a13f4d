"""Visit generation (SPEC §4), a scheduled job: ``generate_due_visits`` creates the due
new-account and periodic visits with a set-based ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``,
one statement per chunk of account ids (keyset pagination); no account is ever loaded into
Python. The partial unique index ``one_open_visit_per_account_kind`` is what makes two
concurrent runs, or a retried task, create each visit once. Assignment is in
visits/assignment.py, the fallback ladder in workspace/ladder.py."""

from __future__ import annotations

import logging
import re
import time as clock
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import (
    ABNORMAL_STATUSES,
    Account,
    AccountType,
    RiskLevel,
)
from core.calendar import BusinessCalendar, business_tz
from visits.models import OPEN_VISIT_STATUSES, Channel, DueUnit, VisitKind, VisitPolicy
from visits.rules import new_account_due, policy_for

logger = logging.getLogger(__name__)

_OPEN_SQL = "(" + ", ".join(f"'{s.value}'" for s in OPEN_VISIT_STATUSES) + ")"
_ABNORMAL_SQL = "(" + ", ".join(f"'{s}'" for s in ABNORMAL_STATUSES) + ")"
# The conflict target names the partial unique index one_open_visit_per_account_kind.
_ON_CONFLICT = f"ON CONFLICT (account_id, kind) WHERE status IN {_OPEN_SQL} DO NOTHING"

_VISIT_COLUMNS = (
    "account_id, branch_id, kind, status, priority, suspected_fraud, due_at, channel, "
    "phone_attempts, policy_id, policy_version, reason, unreachable_reason, cancelled_reason, "
    "created_at, updated_at"
)


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _typed(sql_type: str) -> str:
    # PostgreSQL needs the types of VALUES columns; SQLite's CAST would mangle dates.
    return f"CAST(%s AS {sql_type})" if _is_postgres() else "%s"


def _values_cte(name: str, columns: list[tuple[str, str]], rows: list[tuple]) -> tuple[str, list]:
    row_sql = "(" + ", ".join(_typed(t) for _, t in columns) + ")"
    sql = (
        f"{name}({', '.join(c for c, _ in columns)}) AS (VALUES {', '.join([row_sql] * len(rows))})"
    )
    return sql, [value for row in rows for value in row]


def _date_param(d: date):
    return connection.ops.adapt_datefield_value(d)


def _datetime_param(dt: datetime):
    return connection.ops.adapt_datetimefield_value(dt)


def _id_chunks(chunk_size: int, first: int = 0, last: int | None = None):
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
    return list(_id_chunks(size))


# --- Generation -------------------------------------------------------------------------------


def _split_cycle(months: int, halve: bool) -> tuple[int, int]:
    """(months, days) of a cycle, halved if asked: 12 -> 6 months, 3 -> 1 month 15 days."""
    if not halve:
        return months, 0
    return months // 2, 15 if months % 2 else 0


def _periodic_policy_rows() -> list[tuple]:
    """One row per (account type, risk level, abnormal): the periodic policy that applies and
    its cycle, already halved for high-risk customers and abnormal accounts."""
    policies = list(VisitPolicy.objects.filter(kind=VisitKind.PERIODIC, is_active=True))
    rows = []
    for account_type in AccountType.values:
        for risk in RiskLevel.values:
            policy = policy_for(
                policies, kind=VisitKind.PERIODIC, account_type=account_type, risk_level=risk
            )
            if policy is None:
                continue
            if policy.due_unit != DueUnit.CYCLE_MONTHS:
                logger.warning(
                    "periodic policy without a cycle ignored", extra={"policy": policy.pk}
                )
                continue
            for abnormal in (0, 1):
                halve = policy.halve_for_high_risk and (risk == RiskLevel.HIGH or abnormal)
                months, days = _split_cycle(policy.due_amount, halve)
                if months == 0 and days == 0:
                    continue
                rows.append(
                    (
                        account_type,
                        risk,
                        abnormal,
                        policy.pk,
                        policy.version,
                        policy.priority,
                        policy.preferred_channel,
                        months,
                        days,
                        gettext("定期回访"),
                    )
                )
    return rows


_PERIODIC_COLUMNS = [
    ("account_type", "VARCHAR(20)"),
    ("risk_level", "VARCHAR(10)"),
    ("abnormal", "INTEGER"),  # 1 for a dormant or frozen account
    ("policy_id", "BIGINT"),
    ("policy_version", "INTEGER"),
    ("priority", "INTEGER"),
    ("channel", "VARCHAR(10)"),
    ("months", "INTEGER"),
    ("days", "INTEGER"),
    ("reason", "VARCHAR(300)"),
]


def _periodic_sql(policy_rows: list[tuple], *, lo: int, hi: int, now, horizon) -> tuple[str, list]:
    """The INSERT ... SELECT of periodic visits for one chunk of account ids. The cycle counts
    from the last completed visit of the account (or the end of the last periodic visit given
    up as unreachable, so that one is not regenerated every night), else from opening.

    Accounts that already have an open periodic visit are set aside first, by a merge of the
    account keys with the partial unique index (the ``open_free`` CTE is materialised so that
    this happens before anything else): a run that finds little to do looks up the customers
    of the few accounts left only."""
    cte, params = _values_cte("p", _PERIODIC_COLUMNS, policy_rows)
    end = settings.CALLBACK["WORKDAY_END"]
    if _is_postgres():
        anchor = "COALESCE((lv.at AT TIME ZONE %(tz)s)::date, a.opened_on)"
        due_date = f"({anchor} + make_interval(months => p.months, days => p.days))::date"
        due_at = "(d.due_date + CAST(%(end)s AS TIME)) AT TIME ZONE %(tz)s"
        # One index probe per account left by the anti-join (OFFSET 0 keeps the subquery from
        # being flattened into a hash join that reads every customer for each chunk).
        customer = (
            "CROSS JOIN LATERAL (SELECT c.risk_level, c.do_not_contact FROM accounts_customer c "
            "WHERE c.id = a.customer_id OFFSET 0) c"
        )
    else:
        offset = int(datetime(2000, 1, 1, tzinfo=business_tz()).utcoffset().total_seconds() // 60)
        anchor = f"COALESCE(date(lv.at, '{offset:+d} minutes'), a.opened_on)"
        due_date = f"date({anchor}, '+' || p.months || ' months', '+' || p.days || ' days')"
        due_at = f"datetime(d.due_date, '{end.hour * 60 + end.minute - offset:+d} minutes')"
        customer = "JOIN accounts_customer c ON c.id = a.customer_id"
    sql = f"""
        INSERT INTO visits_visit ({_VISIT_COLUMNS})
        WITH {cte},
        open_free AS MATERIALIZED (
            SELECT a.id, a.branch_id, a.customer_id, a.account_type, a.opened_on,
                   CASE WHEN a.status IN {_ABNORMAL_SQL} THEN 1 ELSE 0 END AS abnormal
            FROM accounts_account a
            WHERE a.id > %(lo)s AND a.id <= %(hi)s AND a.status <> 'closed'
              AND NOT EXISTS (
                  SELECT 1 FROM visits_visit v
                  WHERE v.account_id = a.id AND v.kind = 'periodic' AND v.status IN {_OPEN_SQL}
                    -- the chunk's bounds again, so the anti-join reads only this chunk's entries
                    AND v.account_id > %(lo)s AND v.account_id <= %(hi)s
              )
        ),
        cand AS MATERIALIZED (
            SELECT a.id, a.branch_id, a.account_type, a.opened_on, c.risk_level, a.abnormal
            FROM open_free a
            {customer}
            WHERE NOT c.do_not_contact
        ),
        lv AS (
            SELECT account_id, MAX(CASE WHEN status = 'completed' THEN completed_at ELSE updated_at END) AS at
            FROM visits_visit
            WHERE account_id > %(lo)s AND account_id <= %(hi)s
              AND (status = 'completed' OR (status = 'unreachable' AND kind = 'periodic'))
            GROUP BY account_id
        ),
        d AS (
            SELECT a.id AS account_id, a.branch_id, p.policy_id, p.policy_version, p.priority,
                   p.channel, p.reason, {due_date} AS due_date
            FROM cand a
            -- The customer is joined in cand: joining it after this join made the planner
            -- look each customer up once per policy row.
            JOIN p ON p.account_type = a.account_type AND p.risk_level = a.risk_level
                  AND p.abnormal = a.abnormal
            LEFT JOIN lv ON lv.account_id = a.id
        )
        SELECT d.account_id, d.branch_id, 'periodic', 'pending', d.priority, FALSE, {due_at},
               d.channel, 0, d.policy_id, d.policy_version, d.reason, '', '', %(now)s, %(now)s
        FROM d
        WHERE d.due_date <= %(horizon)s
        ORDER BY d.account_id
        {_ON_CONFLICT}
    """
    named = {
        "tz": settings.TIME_ZONE,
        "end": end.strftime("%H:%M:%S"),
        "lo": lo,
        "hi": hi,
        "now": now,
        "horizon": horizon,
    }
    # The VALUES rows take positional parameters and come first; the named ones follow in
    # order of appearance (Django cursors take one parameter style).
    order = re.findall(r"%\((\w+)\)s", sql)
    return re.sub(r"%\((\w+)\)s", "%s", sql), [*params, *(named[name] for name in order)]


def _generate_new_account(
    now: datetime, calendar: BusinessCalendar, id_range: tuple[int, int] | None = None
) -> int:
    """New-account visits for accounts opened in the look-back window that never had one."""
    today = timezone.localtime(now, business_tz()).date()
    first = today - timedelta(days=settings.CALLBACK["NEW_ACCOUNT_LOOKBACK_DAYS"])
    policies = list(VisitPolicy.objects.filter(kind=VisitKind.NEW_ACCOUNT, is_active=True))
    reason = gettext("新开户回访")
    rows = []
    for account_type in AccountType.values:
        policy = policy_for(policies, kind=VisitKind.NEW_ACCOUNT, account_type=account_type)
        day = first
        while day <= today:
            # A year not loaded yet gives a provisional due time (Monday-Friday), recomputed
            # when the year is loaded: the visit is made now, never deferred.
            due = new_account_due(calendar, day, policy)
            rows.append(
                (
                    account_type,
                    _date_param(day),
                    _datetime_param(due.at),
                    due.provisional,
                    policy.pk if policy else None,
                    policy.version if policy else None,
                    policy.priority if policy else 60,
                    policy.preferred_channel if policy else Channel.PHONE,
                    reason,
                )
            )
            day += timedelta(days=1)
    if not rows:
        return 0
    columns = [
        ("account_type", "VARCHAR(20)"),
        ("opened_on", "DATE"),
        ("due_at", "TIMESTAMPTZ"),
        ("due_provisional", "BOOLEAN"),
        ("policy_id", "BIGINT"),
        ("policy_version", "INTEGER"),
        ("priority", "INTEGER"),
        ("channel", "VARCHAR(10)"),
        ("reason", "VARCHAR(300)"),
    ]
    cte, params = _values_cte("d", columns, rows)
    sql = f"""
        INSERT INTO visits_visit ({_VISIT_COLUMNS}, due_provisional)
        WITH {cte}
        SELECT a.id, a.branch_id, 'new_account', 'pending', d.priority, FALSE, d.due_at,
               d.channel, 0, d.policy_id, d.policy_version, d.reason, '', '', %s, %s,
               d.due_provisional
        FROM accounts_account a
        JOIN accounts_customer c ON c.id = a.customer_id
        JOIN d ON d.account_type = a.account_type AND d.opened_on = a.opened_on
        WHERE a.opened_on >= %s AND a.opened_on <= %s AND a.id > %s AND a.id <= %s
          AND a.status <> 'closed' AND NOT c.do_not_contact
          AND NOT EXISTS (
              SELECT 1 FROM visits_visit v WHERE v.account_id = a.id AND v.kind = 'new_account'
          )
        ORDER BY a.id
        {_ON_CONFLICT}
    """
    stamp = _datetime_param(now)
    with connection.cursor() as cursor:
        lo, hi = id_range or (0, 2**62)
        cursor.execute(sql, [*params, stamp, stamp, _date_param(first), _date_param(today), lo, hi])
        return max(cursor.rowcount, 0)


def _insert_chunk(cursor, sql: str, params: list) -> int:
    """The chunk's INSERT without its ON CONFLICT clause first: the anti-join has already set
    aside the accounts with an open visit, and a plain insert skips the speculative insertion
    of every row (a fifth of the statement). Should another process have opened one of these
    visits meanwhile (a concurrent run), the unique index refuses it and the statement is run
    again, with ON CONFLICT DO NOTHING, after its savepoint is rolled back."""
    try:
        with transaction.atomic():
            cursor.execute(sql.replace(_ON_CONFLICT, ""), params)
    except IntegrityError:
        cursor.execute(sql, params)
    return max(cursor.rowcount, 0)


def generate_due_visits(
    *, now: datetime | None = None, id_range: tuple[int, int] | None = None
) -> dict:
    """Create the new-account and periodic visits that are due (SPEC §4). Safe to run twice
    at once: each statement inserts with ON CONFLICT DO NOTHING on the partial unique index,
    in account-id order, so a concurrent run waits for the other's rows and skips them.
    ``id_range`` (lo, hi] limits the run to those accounts (one of ``account_ranges``: the
    ranges can run in parallel on several workers). Returns the number of visits created per
    kind."""
    now = now or timezone.now()
    started = clock.monotonic()
    calendar = BusinessCalendar()
    created = {VisitKind.NEW_ACCOUNT.value: 0, VisitKind.PERIODIC.value: 0}
    created[VisitKind.NEW_ACCOUNT.value] = _generate_new_account(now, calendar, id_range)

    policy_rows = _periodic_policy_rows()
    if policy_rows:
        today = timezone.localtime(now, business_tz()).date()
        horizon = today + timedelta(days=settings.CALLBACK["GENERATION_HORIZON_DAYS"])
        chunk = settings.CALLBACK["GENERATION_CHUNK_SIZE"]
        with connection.cursor() as cursor:
            for lo, hi in _id_chunks(chunk, *(id_range or (0, None))):
                sql, params = _periodic_sql(
                    policy_rows,
                    lo=lo,
                    hi=hi,
                    now=_datetime_param(now),
                    horizon=_date_param(horizon),
                )
                with transaction.atomic():
                    created[VisitKind.PERIODIC.value] += _insert_chunk(cursor, sql, params)
    logger.info(
        "generate_due_visits done",
        extra={"visits_created": created, "seconds": round(clock.monotonic() - started, 3)},
    )
    return created
