"""Daily-cumulative windows: PostgreSQL's set-based statement gives the figures of the plain
Python summation, for every kind, currency and time of day (the Beijing day, midnight to
midnight, also before 08:00 when the UTC date is still the day before)."""

import random
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import AccountEventFactory, AccountFactory
from visits import windows
from visits.currencies import CNY, reference_rates, usd_factor
from visits.models import EventRule, RuleType
from visits.rules import apply_events

pytestmark = [pytest.mark.django_db]

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.postgres
def test_it_sums_each_beijing_days_window_in_sql_as_in_python():
    rng = random.Random(17)
    accounts = [AccountFactory() for _ in range(4)]
    start = datetime(2026, 3, 30, 0, 0, tzinfo=SHANGHAI)
    events = []
    for _ in range(80):
        events.append(
            AccountEventFactory(
                account=rng.choice(accounts),
                event_type="transaction",
                amount=Decimal(rng.randrange(100, 90_000_00)) / 100,
                currency=rng.choice(["CNY", "CNY", "", "USD", "EUR", "JPY"]),
                txn_kind=rng.choice(["cash", "transfer"]),
                # Across three days, around midnight in Beijing and in UTC.
                occurred_at=start + timedelta(minutes=rng.randrange(0, 3 * 24 * 60)),
            )
        )
    AccountEventFactory(account=accounts[0], event_type="complaint", occurred_at=start)
    rules = list(EventRule.objects.filter(is_active=True, rule_type=RuleType.DAILY_CUMULATIVE))
    rates = reference_rates()
    factors = {c: f for c in rates if c != CNY and (f := usd_factor(c, rates)) is not None}
    batch = rng.sample(events, 30)

    in_sql = windows._aggregates_sql(batch, rules, factors)
    in_orm = windows._aggregates_orm(batch, rules, factors)

    assert set(in_sql) == {e.pk for e in batch}
    reached = 0
    for pk, totals in in_orm.items():
        for name, value in totals.items():
            sql_value = in_sql[pk][name]
            if value is None:
                assert sql_value is None, (pk, name)
            else:
                assert Decimal(str(sql_value)) == pytest.approx(Decimal(str(value))), (pk, name)
        reached += any(windows.cumulative_reached(r, in_sql[pk]) for r in rules)
    assert reached  # the amounts are large enough that some windows pass their threshold

    # The thresholds compared in SQL give what cumulative_reached says of the sums, and
    # leave out the events that reach none.
    expected = {}
    for pk, totals in in_orm.items():
        if ids := {r.id for r in rules if windows.cumulative_reached(r, totals)}:
            expected[pk] = ids
    assert windows._reached_sql(batch, rules, factors) == expected
    assert windows.windows_reached(batch, rules, rates) == expected
    assert 0 < len(expected) < len(batch)


def test_it_counts_a_beijing_day_from_midnight_not_from_eight_oclock():
    account = AccountFactory(account_type="personal_savings")
    night = datetime(2026, 4, 7, 1, 0, tzinfo=SHANGHAI)  # still 6 April in UTC
    first = AccountEventFactory(
        account=account, amount=Decimal("30000.00"), currency="CNY", txn_kind="cash",
        occurred_at=night,
    )  # fmt: skip
    second = AccountEventFactory(
        account=account, amount=Decimal("25000.00"), currency="CNY", txn_kind="cash",
        occurred_at=night + timedelta(hours=6),
    )  # fmt: skip
    with time_machine.travel(datetime(2026, 4, 7, 10, 0, tzinfo=SHANGHAI), tick=False):
        visits = apply_events([first, second])
    assert visits[first.pk] == []
    assert len(visits[second.pk]) == 1  # 55,000 in cash the same Beijing day
