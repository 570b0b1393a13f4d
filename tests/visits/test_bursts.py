"""Bursts of small transactions judged on event time, not arrival order (SPEC §4 "Precise rules
for the edges"): one suspected-fraud visit whichever transaction arrives last, in single events
and in batches, with every transaction of the window linked for the customer to answer."""

import random
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import AccountEventFactory
from visits.models import Visit
from visits.rules import apply_events
from workspace.services import flagged_events_of

pytestmark = [pytest.mark.django_db, pytest.mark.spec("4.burst", clause="六.3")]

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Thursday 2025-10-02, in the National Day holiday: the burst starts the evening before.
NOW = datetime(2025, 10, 2, 12, 0, tzinfo=SHANGHAI)
START = datetime(2025, 10, 1, 12, 30, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def small(account, at, amount="99.00", currency="CNY"):
    return AccountEventFactory(
        account=account,
        event_type="transaction",
        amount=Decimal(amount),
        currency=currency,
        txn_kind="transfer",
        occurred_at=at,
    )


def ten_over(span: timedelta) -> list[datetime]:
    """Ten moments from START, the last ``span`` after the first."""
    return [START + span * i / 9 for i in range(10)]


def fraud_visits(account):
    return list(Visit.objects.filter(account=account, kind="special_event", suspected_fraud=True))


def arrive(account, at, *args):
    """One event received and evaluated, as the API does."""
    event = small(account, at, *args)
    return event, apply_events([event])[event.pk]


def test_it_opens_the_visit_when_the_newest_of_ten_arrives_first(account):
    moments = ten_over(timedelta(hours=20))
    arrivals = [arrive(account, at) for at in reversed(moments)]  # newest first
    assert [visits for _e, visits in arrivals[:-1]] == [[]] * 9
    (visit,) = fraud_visits(account)
    assert arrivals[-1][1] == [visit]  # the oldest in time, arriving last, completes it
    assert set(visit.events.values_list("pk", flat=True)) == {e.pk for e, _v in arrivals}


def test_it_opens_one_visit_whatever_the_order_of_single_events(account):
    moments = ten_over(timedelta(hours=23))
    order = list(range(10))
    random.Random(2025).shuffle(order)
    answers = [arrive(account, moments[i])[1] for i in order]
    (visit,) = fraud_visits(account)
    assert answers[:-1] == [[]] * 9 and answers[-1] == [visit]
    assert visit.events.count() == 10


def test_it_opens_one_visit_for_a_shuffled_batch_and_links_every_transaction(account):
    moments = ten_over(timedelta(hours=23, minutes=59, seconds=59))
    events = [small(account, at) for at in moments]
    random.Random(7).shuffle(events)
    result = apply_events(events)
    (visit,) = fraud_visits(account)
    assert all(result[e.pk] == [visit] for e in events)
    assert [e.pk for e in flagged_events_of(visit)] == [
        e.pk for e in sorted(events, key=lambda e: e.occurred_at)
    ]
    assert all(e.flagged for e in flagged_events_of(visit))


def test_ten_transactions_exactly_24_hours_from_first_to_last_are_no_burst(account):
    events = [small(account, at) for at in ten_over(timedelta(hours=24))]
    assert apply_events(events) == {e.pk: [] for e in events}
    assert fraud_visits(account) == []


def test_one_second_inside_the_24_hours_is_a_burst(account):
    events = [small(account, at) for at in ten_over(timedelta(hours=23, minutes=59, seconds=59))]
    apply_events(events)
    (visit,) = fraud_visits(account)
    assert visit.events.count() == 10


def test_a_transaction_of_1000_yuan_is_not_small(account):
    moments = ten_over(timedelta(hours=5))
    events = [small(account, at) for at in moments[:9]] + [small(account, moments[9], "1000.00")]
    apply_events(events)
    assert fraud_visits(account) == []
    ninth = small(account, moments[9] + timedelta(minutes=1), "999.99")
    apply_events([ninth])
    (visit,) = fraud_visits(account)
    assert visit.events.count() == 10  # the 1,000.00 one is not part of it


def test_a_late_eleventh_transaction_joins_the_same_visit(account):
    moments = ten_over(timedelta(hours=10))
    apply_events([small(account, at) for at in moments])
    (visit,) = fraud_visits(account)
    late = small(account, START - timedelta(hours=1))  # older than all, arriving after them
    assert apply_events([late]) == {late.pk: [visit]}
    assert fraud_visits(account) == [visit]
    assert visit.events.count() == 11


def test_the_due_time_counts_from_the_tenth_transaction_in_time(account):
    moments = ten_over(timedelta(hours=9))  # 12:30 .. 21:30 on 2025-10-01
    events = [small(account, at) for at in reversed(moments)]
    apply_events(events)
    (visit,) = fraud_visits(account)
    # Whatever arrived last, the visit is no earlier than the moment the burst was complete.
    assert visit.due_at > moments[-1]


def test_small_amounts_in_another_currency_count_at_their_cny_equivalent(account):
    moments = ten_over(timedelta(hours=3))
    # USD 140 is about CNY 994 at the default reference rate; USD 141 about CNY 1,001.
    events = [small(account, at, "140.00", "USD") for at in moments[:9]]
    events.append(small(account, moments[9], "141.00", "USD"))
    apply_events(events)
    assert fraud_visits(account) == []
    apply_events([small(account, moments[9] + timedelta(minutes=5), "140.00", "USD")])
    (visit,) = fraud_visits(account)
    assert visit.events.count() == 10
