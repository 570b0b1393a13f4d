"""Suspected fraud is due 2 calling hours after the event, counted every day, holidays
included (SPEC §4 "Suspected fraud: 2 calling hours"; CALLING_HOURS 09:00-20:00)."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.factories import AccountFactory
from visits.models import EventRule, Visit

from .conftest import txn_event

pytestmark = [pytest.mark.django_db, pytest.mark.spec("4.special-event")]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def fraud_rule(db):
    """A single-transaction rule marked suspected fraud, on the seeded rules' unit."""
    unit = EventRule.objects.get(code="small_burst_10_in_24h").due_unit
    return EventRule.objects.create(
        code="test_fraud_cash_100k",
        name="疑似欺诈：单笔现金≥10万元",
        rule_type="single_transaction",
        txn_kind="cash",
        threshold=Decimal("100000"),
        suspected_fraud=True,
        due_unit=unit,
        due_amount=2,
        priority=100,
    )


def test_the_seeded_suspected_fraud_rules_count_calling_hours():
    fraud = EventRule.objects.filter(suspected_fraud=True)
    assert fraud.exists()
    assert set(fraud.values_list("due_unit", flat=True)) == {"calling_hours"}


@pytest.mark.parametrize(
    ("occurred_at", "due_at"),
    [
        # The eve of National Day 2025: no waiting until 10-09.
        ("2025-09-30T16:30:00+08:00", at(2025, 9, 30, 18, 30)),
        ("2025-09-30T19:30:00+08:00", at(2025, 10, 1, 10, 30)),
        ("2025-09-30T23:00:00+08:00", at(2025, 10, 1, 11, 0)),
        # The 20:00 edge, in the middle of the holiday.
        ("2025-10-03T19:59:00+08:00", at(2025, 10, 4, 10, 59)),
        ("2025-10-03T20:00:00+08:00", at(2025, 10, 4, 11, 0)),
        # Qingming 2026 (04-04..06 off): a Sunday morning counts as any other.
        ("2026-04-05T08:00:00+08:00", at(2026, 4, 5, 11, 0)),
    ],
)
def test_a_suspected_fraud_is_due_two_calling_hours_later_every_day(
    api, fraud_rule, frozen_now, occurred_at, due_at
):
    account = AccountFactory()
    response = api.post(
        "/api/v1/events",
        txn_event("F-1", account.number, "150000.00", occurred_at=occurred_at),
        format="json",
    )
    assert response.status_code == 201
    visit = Visit.objects.get(account=account, kind="special_event")
    assert visit.suspected_fraud and visit.rule == fraud_rule
    assert (visit.due_at, visit.due_provisional) == (due_at, False)
