"""Bursts of small transactions judged on event time, not arrival order (SPEC §4).

Whenever ``min_count`` or more small transactions fall within any ``window_hours`` of their
``occurred_at`` (the first and the last less than the window apart), each of them completes
the burst, whichever arrives last, and every transaction of such a window is linked to the
suspected-fraud visit for the customer to confirm or deny."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from accounts.models import AccountEvent, EventType
from visits.currencies import is_small
from visits.models import EventRule, RuleType

TRANSACTION = EventType.TRANSACTION.value


@dataclass(frozen=True)
class Burst:
    """The small transactions of the qualifying windows that hold an event (in time order),
    and when the burst was complete: the ``min_count``-th of them by ``occurred_at``, the
    moment its visit's due time counts from, whichever arrived last."""

    events: list[tuple[int, datetime]]  # (pk, occurred_at)
    completed_at: datetime

    @property
    def event_ids(self) -> list[int]:
        return [pk for pk, _at in self.events]


def burst_windows(
    events: Sequence[AccountEvent], rules: Sequence[EventRule], rates: dict[str, Decimal]
) -> dict[int, dict[int, Burst]]:
    """For each event of ``events`` that belongs to a burst: rule pk -> its Burst. One query
    per burst rule over the accounts concerned and the window around the batch."""
    out: dict[int, dict[int, Burst]] = defaultdict(dict)
    for rule in rules:
        if rule.rule_type != RuleType.SMALL_BURST or not rule.is_active:
            continue
        kind = rule.txn_kind
        candidates = [
            e
            for e in events
            if e.event_type == TRANSACTION
            and (not kind or e.txn_kind == kind)
            and is_small(rule, e.amount, e.currency, rates)
        ]
        if not candidates:
            continue
        window = timedelta(hours=rule.window_hours or 24)
        needed = rule.min_count or 1
        history = AccountEvent.objects.filter(
            account_id__in={e.account_id for e in candidates},
            event_type=EventType.TRANSACTION,
            occurred_at__gt=min(e.occurred_at for e in candidates) - window,
            occurred_at__lt=max(e.occurred_at for e in candidates) + window,
        )
        if rule.txn_kind:
            history = history.filter(txn_kind=rule.txn_kind)
        by_account: dict[int, list[tuple]] = defaultdict(list)
        for account_id, pk, occurred_at, amount, currency in history.values_list(
            "account_id", "pk", "occurred_at", "amount", "currency"
        ):
            if is_small(rule, amount, currency, rates):
                by_account[account_id].append((occurred_at, pk))
        for rows in by_account.values():
            rows.sort()
        for event in candidates:
            rows = by_account.get(event.account_id, [])
            times = [at for at, _pk in rows]
            # Windows [times[i], times[i] + window) that start at or before the event and
            # still hold it; the qualifying ones are contiguous, so their union is one slice.
            first, last = None, None
            starts = range(
                bisect_right(times, event.occurred_at - window),
                bisect_right(times, event.occurred_at),
            )
            for i in starts:
                end = bisect_left(times, times[i] + window)
                if end - i >= needed:
                    first = i if first is None else first
                    last = end
            if first is not None:
                out[event.pk][rule.pk] = Burst(
                    events=[(pk, at) for at, pk in rows[first:last]],
                    completed_at=times[first + needed - 1],
                )
    return dict(out)
