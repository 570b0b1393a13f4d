"""Daily-cumulative windows of transactions (SPEC §4): for each transaction of a batch, the
day's total up to it, per daily-cumulative rule.

On PostgreSQL one statement joins the batch (passed as arrays, not re-read from the events
table) to each account's history through the (account, occurred_at) index; elsewhere the
history is read in one query and summed in Python. The day is the Beijing day."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection

from accounts.models import AccountEvent, EventType
from core.pg import pg_array
from visits.currencies import CNY, usd_factor
from visits.models import EventRule, RuleType

EVENT_TABLE = AccountEvent._meta.db_table


def _in_scope(events, rules, rates, concerned):
    """(events, window rules, USD factors) a window query needs: the events some daily-
    cumulative rule can apply to (``concerned(event)``: the rules that can apply to the event,
    by its account type and kind), the rules that apply to some event of the batch (each is a
    sum over every row read), and the USD per unit of each currency with a rate."""
    window_rules = [r for r in rules if r.rule_type == RuleType.DAILY_CUMULATIVE]
    if concerned is not None and window_rules:
        windowed = {r.id for r in window_rules}
        kept, used = [], set()
        # ``concerned`` answers with one list per (account type, kind), the same object for
        # every event of that scope: its window rules are worked out once per list (kept here
        # with the list, so that no other list can take its address while this runs).
        windowed_of: dict[int, tuple[Sequence[EventRule], list[int]]] = {}
        for event in events:
            candidates = concerned(event)
            known = windowed_of.get(id(candidates))
            if known is None:
                mine = [r.id for r in candidates if r.id in windowed]
                windowed_of[id(candidates)] = (candidates, mine)
                used.update(mine)
            else:
                mine = known[1]
            if mine:
                kept.append(event)
        events = kept
        window_rules = [r for r in window_rules if r.id in used]
    usd_factors = {
        code: factor
        for code in rates
        if code != CNY and (factor := usd_factor(code, rates)) is not None
    }
    return events, window_rules, usd_factors


def windows_reached(
    events: Sequence,
    rules: Sequence[EventRule],
    rates: dict[str, Decimal],
    concerned: Callable[[object], Sequence[EventRule]] | None = None,
) -> dict[int, set[int]]:
    """The events whose day's cumulative amount up to them reaches a daily-cumulative rule
    (``cumulative_reached`` of the day's sums): event pk -> the ids of those rules; an
    event that reaches none is left out. On PostgreSQL the thresholds are compared in the
    query, which sends back only those events (a batch's thousand sums were a tenth of its
    Python time). ONE query."""
    events, window_rules, usd_factors = _in_scope(events, rules, rates, concerned)
    if not events or not window_rules:
        return {}
    if connection.vendor == "postgresql":
        return _reached_sql(events, window_rules, usd_factors)
    sums = _aggregates_orm(events, window_rules, usd_factors)
    reached = {}
    for pk, totals in sums.items():
        if ids := {r.id for r in window_rules if cumulative_reached(r, totals)}:
            reached[pk] = ids
    return reached


def _day_start(moment: datetime, tz: ZoneInfo) -> datetime:
    return datetime.combine(moment.astimezone(tz).date(), time(0), tzinfo=tz)


def _window_sql(events, window_rules, usd_factors) -> tuple[str, list, list[tuple]]:
    """The window statement: (SQL, params, columns). Each row is an event's id and its sums,
    columns ``c<i>`` (CNY) and ``u<i>`` (USD, when there are rates) for the i-th rule; the
    third item lists (name, rule, column, USD column or None) for each rule."""
    tz = ZoneInfo(settings.TIME_ZONE)
    params: list = []
    sums = []
    usd_case = None
    if usd_factors:
        whens = []
        for code, factor in usd_factors.items():
            whens.append("WHEN %s THEN h.amount * %s::numeric")
            params += [code, factor]
        usd_case = f"CASE h.currency {' '.join(whens)} END"
    usd_params = list(params)
    params = []
    columns = []
    for i, rule in enumerate(window_rules):
        kind = "AND h.txn_kind = %s " if rule.txn_kind else ""
        kind_params = [rule.txn_kind] if rule.txn_kind else []
        sums.append(f"SUM(h.amount) FILTER (WHERE h.currency IN ('', %s) {kind}) AS c{i}")
        params += [CNY, *kind_params]
        if usd_case:
            sums.append(f"SUM({usd_case}) FILTER (WHERE h.currency NOT IN ('', %s) {kind}) AS u{i}")
            params += [*usd_params, CNY, *kind_params]
        columns.append((f"rule_{rule.pk}", rule, f"c{i}", f"u{i}" if usd_case else None))
    # LATERAL: one index range scan per event of the batch (account, day start .. event time);
    # a hash join would read the whole span of every account instead. The Beijing day starts
    # where date_trunc in the business time zone says (a timestamp less to write and parse).
    sql = (
        "FROM (SELECT id, account_id, at, date_trunc('day', at, %s) AS day_start "
        "FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[]) AS u(id, account_id, at)) b "
        f"CROSS JOIN LATERAL (SELECT {', '.join(sums)} FROM {EVENT_TABLE} h "
        "WHERE h.account_id = b.account_id "
        "AND h.occurred_at >= b.day_start AND h.occurred_at <= b.at "
        # Constant bounds as well: the planner prunes the months outside the batch.
        "AND h.occurred_at >= %s AND h.occurred_at <= %s "
        "AND h.event_type = %s) s"
    )
    params = [
        settings.TIME_ZONE,
        pg_array([e.id for e in events]),
        pg_array([e.account_id for e in events]),
        pg_array([e.occurred_at for e in events]),
        *params,
    ]
    params += [
        _day_start(min(e.occurred_at for e in events), tz),
        max(e.occurred_at for e in events),
        EventType.TRANSACTION,
    ]
    return sql, params, columns


def _aggregates_sql(events, window_rules, usd_factors) -> dict[int, dict]:
    """The window sums themselves (``_aggregates_orm``'s shape), from the statement that
    ``_reached_sql`` compares with the thresholds: what tests/visits/test_windows.py holds
    equal to the Python summation. Ingestion uses ``_reached_sql``."""
    body, params, columns = _window_sql(events, window_rules, usd_factors)
    names, selected = [], []
    for name, _rule, cny, usd in columns:
        names.append(name)
        selected.append(f"s.{cny}")
        if usd:
            names.append(f"{name}_usd")
            selected.append(f"s.{usd}")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT b.id, {', '.join(selected)} {body}", params)
        return {row[0]: dict(zip(names, row[1:], strict=True)) for row in cursor.fetchall()}


def _reached_sql(events, window_rules, usd_factors) -> dict[int, set[int]]:
    """``cumulative_reached`` in SQL, per rule: the CNY sum (none counts as 0) at or above the
    threshold, or the USD sum at or above the USD threshold."""
    body, params, columns = _window_sql(events, window_rules, usd_factors)
    tests, test_params = [], []
    for _name, rule, cny, usd in columns:
        parts = []
        if rule.threshold is not None:
            parts.append(f"COALESCE(s.{cny}, 0) >= %s")
            test_params.append(rule.threshold)
        if usd and rule.usd_threshold is not None:
            parts.append(f"COALESCE(s.{usd} >= %s, FALSE)")
            test_params.append(rule.usd_threshold)
        tests.append(f"({' OR '.join(parts)})" if parts else "FALSE")
    sql = (
        f"SELECT * FROM (SELECT b.id, {', '.join(f'{t} AS r{i}' for i, t in enumerate(tests))} "
        f"{body}) reached WHERE {' OR '.join(f'r{i}' for i in range(len(tests)))}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*test_params, *params])
        return {
            row[0]: {rule.id for (_n, rule, _c, _u), hit in zip(columns, row[1:]) if hit}
            for row in cursor.fetchall()
        }


def _aggregates_orm(events, window_rules, usd_factors) -> dict[int, dict]:
    """Elsewhere (SQLite): the accounts' transactions of the batch's span in one query, summed
    here. (A TruncDay in SQL compares a Beijing midnight without its offset to UTC times.)"""
    tz = ZoneInfo(settings.TIME_ZONE)
    starts = {e.pk: _day_start(e.occurred_at, tz) for e in events}
    history: dict[int, list[tuple]] = {}
    for row in AccountEvent.objects.filter(
        account_id__in={e.account_id for e in events},
        event_type=EventType.TRANSACTION,
        occurred_at__gte=min(starts.values()),
        occurred_at__lte=max(e.occurred_at for e in events),
    ).values_list("account_id", "occurred_at", "amount", "currency", "txn_kind"):
        history.setdefault(row[0], []).append(row[1:])
    out = {}
    for event in events:
        rows = [
            r
            for r in history.get(event.account_id, [])
            if starts[event.pk] <= r[0] <= event.occurred_at and r[1] is not None
        ]
        totals = {}
        for rule in window_rules:
            mine = [r for r in rows if not rule.txn_kind or r[3] == rule.txn_kind]
            cny = [amount for _at, amount, currency, _k in mine if currency in ("", CNY)]
            totals[f"rule_{rule.pk}"] = sum(cny) if cny else None
            if usd_factors:
                usd = [
                    amount * usd_factors[currency]
                    for _at, amount, currency, _k in mine
                    if currency not in ("", CNY) and currency in usd_factors
                ]
                totals[f"rule_{rule.pk}_usd"] = sum(usd) if usd else None
        out[event.pk] = totals
    return out


def cumulative_reached(rule: EventRule, totals: dict) -> bool:
    """Whether the day's sums of ``_aggregates_orm`` reach the rule (``_reached_sql`` says the
    same in SQL)."""
    cny = totals.get(f"rule_{rule.pk}") or Decimal(0)
    if rule.threshold is not None and Decimal(str(cny)) >= rule.threshold:
        return True
    usd = totals.get(f"rule_{rule.pk}_usd")
    if usd is None:
        return False
    if rule.usd_threshold is not None:
        return Decimal(str(usd)) >= rule.usd_threshold
    return False
