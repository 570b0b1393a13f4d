"""The periodic due date (SPEC §4): each policy's cycle counted from the account's last completed
visit (or its opening), halved for high risk, as one set-based SELECT per chunk of accounts."""

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


def periodic_sql(policy_rows: list[tuple], *, lo: int, hi: int, now, horizon) -> tuple[str, list]:
    """The INSERT ... SELECT of periodic visits for one chunk of account ids. The cycle counts
    from the last completed visit of the account (or the end of the last periodic visit given
    up as unreachable, so that one is not regenerated every night), else from opening.

    Accounts that already have an open periodic visit are set aside first, by a merge of the
    account keys with the partial unique index (the ``open_free`` CTE is materialised so that
    this happens before anything else): a run that finds little to do looks up the customers
    of the few accounts left only."""
    cte, params = values_cte("p", PERIODIC_COLUMNS, policy_rows)
    end = settings.CALLBACK["WORKDAY_END"]
    if is_postgres():
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
        INSERT INTO visits_visit ({VISIT_COLUMNS})
        WITH {cte},
        open_free AS MATERIALIZED (
            SELECT a.id, a.branch_id, a.customer_id, a.account_type, a.opened_on,
                   CASE WHEN a.status IN {ABNORMAL_SQL} THEN 1 ELSE 0 END AS abnormal
            FROM accounts_account a
            WHERE a.id > %(lo)s AND a.id <= %(hi)s AND a.status <> 'closed'
              AND NOT EXISTS (
                  SELECT 1 FROM visits_visit v
                  WHERE v.account_id = a.id AND v.kind = 'periodic' AND v.status IN {OPEN_SQL}
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
        {ON_CONFLICT}
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
