"""The periodic due date (SPEC §4): each policy's cycle counted from the account's last completed
visit (or its opening), halved for high risk: one set-based SELECT of the due set over all the
accounts (or one id range of them), then one INSERT per chunk of due accounts."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext

from accounts.models import (
    AccountType,
    RiskLevel,
)
from core.calendar import business_tz
from visits.generation_sql import (
    ABNORMAL_SQL,
    ON_CONFLICT,
    OPEN_SQL,
    VISIT_COLUMNS,
    is_postgres,
    values_cte,
)
from visits.models import DueUnit, VisitKind, VisitPolicy
from visits.rules import policy_for

logger = logging.getLogger(__name__)


def _split_cycle(months: int, halve: bool) -> tuple[int, int]:
    """(months, days) of a cycle, halved if asked: 12 -> 6 months, 3 -> 1 month 15 days."""
    if not halve:
        return months, 0
    return months // 2, 15 if months % 2 else 0


def periodic_policy_rows() -> list[tuple]:
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


PERIODIC_COLUMNS = [
    ("rule", "INTEGER"),  # the row's index in periodic_policy_rows
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


def _policy_cte(policy_rows: list[tuple]) -> tuple[str, list]:
    return values_cte("p", PERIODIC_COLUMNS, [(i, *row) for i, row in enumerate(policy_rows)])


def _positional(sql: str, params: list, named: dict) -> tuple[str, list]:
    """The VALUES rows take positional parameters and come first; the named ones follow in
    order of appearance (Django cursors take one parameter style)."""
    order = re.findall(r"%\((\w+)\)s", sql)
    return re.sub(r"%\((\w+)\)s", "%s", sql), [*params, *(named[name] for name in order)]


def periodic_due_sql(
    policy_rows: list[tuple], *, lo: int, hi: int | None, horizon, chunk: int
) -> tuple[str, list]:
    """The SELECT of the periodic visits due in the account-id range (lo, hi], in ONE pass over
    the accounts (hash joins with the customers, the last visits and the open visits; one
    statement per chunk of accounts cost twice as much, each chunk probing the customers one
    account at a time). Handed back by bucket of ``chunk`` account ids, in id order: one row
    per bucket, (bucket, due accounts, columns...), the columns in compact form (PostgreSQL:
    four arrays as text, account ids, branch ids, policy rule, due date; SQLite: one JSON
    array of [account, branch, rule, due date]), for ``merged_buckets`` and
    ``periodic_insert_sql``. 850,000 due accounts make about 20 MB of text.

    The cycle counts from the last completed visit of the account (or the end of the last
    periodic visit given up as unreachable, so that one is not regenerated every night), else
    from opening. Accounts with an open periodic visit are left out (the insert's ON CONFLICT
    is the guarantee against a visit opened since)."""
    cte, params = _policy_cte(policy_rows)
    if is_postgres():
        anchor = "COALESCE((lv.at AT TIME ZONE %(tz)s)::date, a.opened_on)"
        due_date = "(a.anchor + make_interval(months => p.months, days => p.days))::date"
        columns = ", ".join(
            f"array_agg(d.{c})::text" for c in ("id", "branch_id", "rule", "due_date")
        )
        # Customers joined before the policy rows: the planner, which cannot estimate the
        # join with the VALUES list, looked each customer up once per policy row otherwise.
        fence = "OFFSET 0"
    else:
        offset = _business_offset_minutes()
        anchor = f"COALESCE(date(lv.at, '{offset:+d} minutes'), a.opened_on)"
        due_date = "date(a.anchor, '+' || p.months || ' months', '+' || p.days || ' days')"
        columns = "json_group_array(json_array(d.id, d.branch_id, d.rule, d.due_date))"
        fence = ""
    sql = f"""
        WITH {cte},
        lv AS (
            SELECT account_id, MAX(CASE WHEN status = 'completed' THEN completed_at ELSE updated_at END) AS at
            FROM visits_visit
            WHERE account_id > %(lo)s AND account_id <= %(hi)s
              AND (status = 'completed' OR (status = 'unreachable' AND kind = 'periodic'))
            GROUP BY account_id
        ),
        account AS (
            SELECT a.id, a.branch_id, a.account_type, {anchor} AS anchor, c.risk_level,
                   CASE WHEN a.status IN {ABNORMAL_SQL} THEN 1 ELSE 0 END AS abnormal
            FROM accounts_account a
            JOIN accounts_customer c ON c.id = a.customer_id
            LEFT JOIN lv ON lv.account_id = a.id
            WHERE a.id > %(lo)s AND a.id <= %(hi)s AND a.status <> 'closed'
              AND NOT c.do_not_contact
              AND NOT EXISTS (
                  SELECT 1 FROM visits_visit v
                  WHERE v.account_id = a.id AND v.kind = 'periodic' AND v.status IN {OPEN_SQL}
              )
            {fence}
        ),
        due AS (
            SELECT a.id, a.branch_id, p.rule, {due_date} AS due_date
            FROM account a
            JOIN p ON p.account_type = a.account_type AND p.risk_level = a.risk_level
                  AND p.abnormal = a.abnormal
        ),
        d AS (
            SELECT due.*, (due.id - %(lo)s) / %(chunk)s AS n
            FROM due
            WHERE due.due_date <= %(horizon)s
        )
        SELECT d.n, COUNT(*), {columns} FROM d GROUP BY d.n ORDER BY d.n
    """
    named = {
        "tz": settings.TIME_ZONE,
        "lo": lo,
        "hi": 2**62 if hi is None else hi,
        "horizon": horizon,
        "chunk": chunk,
    }
    return _positional(sql, params, named)


def merged_buckets(buckets: list, chunk: int):
    """The chunks of the due set, each a tuple of compact columns for ``periodic_insert_sql``:
    consecutive buckets of ``periodic_due_sql`` (one per ``chunk`` account ids, so never more
    than ``chunk`` due accounts) joined as long as a chunk stays within ``chunk`` due accounts,
    so that sparse account ids do not make many small statements. A bucket's columns are
    arrays as text, ``{...}`` or ``[...]``: joined by concatenating their contents.
    ``buckets`` is emptied as it is read (memory)."""
    buckets.reverse()
    while buckets:
        _n, size, *columns = buckets.pop()
        parts = [columns]
        while buckets and size + buckets[-1][1] <= chunk:
            _n, count, *columns = buckets.pop()
            parts.append(columns)
            size += count
        if len(parts) == 1:
            yield tuple(parts[0])
            continue
        yield tuple(
            column[0][0] + ",".join(text[1:-1] for text in column) + column[0][-1]
            for column in zip(*parts)
        )


def periodic_insert_sql(policy_rows: list[tuple], chunk_row: tuple, *, now) -> tuple[str, list]:
    """The INSERT of one chunk of due periodic visits, a row of ``periodic_due_sql``, in
    account-id order, ending with ON CONFLICT DO NOTHING (see generation._insert_chunk)."""
    cte, params = _policy_cte(policy_rows)
    end = settings.CALLBACK["WORKDAY_END"]
    if is_postgres():
        due = (
            "unnest(CAST(%(ids)s AS BIGINT[]), CAST(%(branches)s AS BIGINT[]), "
            "CAST(%(rules)s AS INTEGER[]), CAST(%(dates)s AS DATE[])) "
            "AS u(account_id, branch_id, rule, due_date)"
        )
        due_at = "(u.due_date + CAST(%(end)s AS TIME)) AT TIME ZONE %(tz)s"
        ids, branches, rules, dates = chunk_row
        named = {"ids": ids, "branches": branches, "rules": rules, "dates": dates}
    else:
        due = (
            "(SELECT json_extract(j.value, '$[0]') AS account_id, "
            "json_extract(j.value, '$[1]') AS branch_id, json_extract(j.value, '$[2]') AS rule, "
            "json_extract(j.value, '$[3]') AS due_date FROM json_each(%(rows)s) j) u"
        )
        offset = _business_offset_minutes()
        due_at = f"datetime(u.due_date, '{end.hour * 60 + end.minute - offset:+d} minutes')"
        named = {"rows": chunk_row[0]}
    sql = f"""
        INSERT INTO visits_visit ({VISIT_COLUMNS})
        WITH {cte}
        SELECT u.account_id, u.branch_id, 'periodic', 'pending', p.priority, FALSE, {due_at},
               p.channel, 0, p.policy_id, p.policy_version, p.reason, '', '', %(now)s, %(now)s
        FROM {due}
        JOIN p ON p.rule = u.rule
        ORDER BY u.account_id
        {ON_CONFLICT}
    """
    named |= {"tz": settings.TIME_ZONE, "end": end.strftime("%H:%M:%S"), "now": now}
    return _positional(sql, params, named)


def _business_offset_minutes() -> int:
    """SQLite has no time zones: the business zone's fixed offset (Asia/Shanghai has no DST)."""
    return int(datetime(2000, 1, 1, tzinfo=business_tz()).utcoffset().total_seconds() // 60)
