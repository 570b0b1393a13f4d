"""Visit generation (SPEC §4), a scheduled job: ``generate_due_visits`` creates the due
new-account and periodic visits set-based: new-account visits with one ``INSERT ... SELECT``;
periodic visits with one SELECT of the due set over all the accounts (hash joins, as a
hand-written query would do it), handed back in compact form (a few arrays as text per chunk,
about 25 bytes per due account, never a Python object per account), then one ``INSERT ...
SELECT FROM unnest(...)`` per chunk of due accounts, each committed by itself. The partial
unique index ``one_open_visit_per_account_kind`` is what makes two concurrent runs, or a
retried task, create each visit once (``_insert_chunk``). The periodic due date
is in visits/periodic_due.py, assignment in visits/assignment.py, the fallback ladder in
workspace/ladder.py."""

from __future__ import annotations

import logging
import time as clock
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import (
    AccountType,
)
from core.calendar import BusinessCalendar, business_tz
from visits.generation_sql import (
    ON_CONFLICT,
    VISIT_COLUMNS,
    date_param,
    datetime_param,
    values_cte,
    without_jit,
)
from visits.models import Channel, VisitKind, VisitPolicy
from visits.periodic_due import (
    merged_buckets,
    periodic_due_sql,
    periodic_insert_sql,
    periodic_policy_rows,
)
from visits.rules import new_account_due, policy_for

logger = logging.getLogger(__name__)

# --- Generation -------------------------------------------------------------------------------


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
                    date_param(day),
                    datetime_param(due.at),
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
    cte, params = values_cte("d", columns, rows)
    sql = f"""
        INSERT INTO visits_visit ({VISIT_COLUMNS}, due_provisional)
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
        {ON_CONFLICT}
    """
    stamp = datetime_param(now)
    # One statement, one transaction, as in autocommit: the transaction only scopes SET LOCAL.
    with transaction.atomic(), connection.cursor() as cursor:
        without_jit(cursor)
        lo, hi = id_range or (0, 2**62)
        cursor.execute(sql, [*params, stamp, stamp, date_param(first), date_param(today), lo, hi])
        return max(cursor.rowcount, 0)


def _insert_chunk(cursor, sql: str, params: list) -> int:
    """The chunk's INSERT without its ON CONFLICT clause first: the due SELECT has already set
    aside the accounts with an open visit, and a plain insert skips the speculative insertion
    of every row (a fifth of the statement). Should another process have opened one of these
    visits since the due set was selected (a concurrent run), the unique index refuses it and the statement is run
    again, with ON CONFLICT DO NOTHING, after its savepoint is rolled back."""
    try:
        with transaction.atomic():
            cursor.execute(sql.replace(ON_CONFLICT, ""), params)
    except IntegrityError:
        cursor.execute(sql, params)
    return max(cursor.rowcount, 0)


def generate_due_visits(
    *, now: datetime | None = None, id_range: tuple[int, int] | None = None
) -> dict:
    """Create the new-account and periodic visits that are due (SPEC §4). Safe to run twice
    at once: each statement inserts with ON CONFLICT DO NOTHING on the partial unique index
    (see ``_insert_chunk``), in account-id order, so a concurrent run waits for the other's
    rows and skips them; the due set, selected before the inserts, may name an account
    another run has given its visit since: the index refuses it.
    ``id_range`` (lo, hi] limits the run to those accounts (one of ``account_ranges``: the
    ranges can run in parallel on several workers). Returns the number of visits created per
    kind."""
    now = now or timezone.now()
    started = clock.monotonic()
    calendar = BusinessCalendar()
    created = {VisitKind.NEW_ACCOUNT.value: 0, VisitKind.PERIODIC.value: 0}
    created[VisitKind.NEW_ACCOUNT.value] = _generate_new_account(now, calendar, id_range)

    policy_rows = periodic_policy_rows()
    if policy_rows:
        today = timezone.localtime(now, business_tz()).date()
        horizon = today + timedelta(days=settings.CALLBACK["GENERATION_HORIZON_DAYS"])
        lo, hi = id_range or (0, None)
        sql, params = periodic_due_sql(
            policy_rows,
            lo=lo,
            hi=hi,
            horizon=date_param(horizon),
            chunk=settings.CALLBACK["GENERATION_CHUNK_SIZE"],
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            buckets = cursor.fetchall()
            for chunk_row in merged_buckets(buckets, settings.CALLBACK["GENERATION_CHUNK_SIZE"]):
                sql, params = periodic_insert_sql(policy_rows, chunk_row, now=datetime_param(now))
                with transaction.atomic():
                    without_jit(cursor)
                    created[VisitKind.PERIODIC.value] += _insert_chunk(cursor, sql, params)
    logger.info(
        "generate_due_visits done",
        extra={"visits_created": created, "seconds": round(clock.monotonic() - started, 3)},
    )
    return created
