"""Amounts in other currencies and special accounts (SPEC §4 "Currencies", "Special
accounts"): USD equivalents after the PBOC large-value rules, reference rates kept as data."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import AccountEventFactory, AccountFactory, CustomerFactory
from visits.models import CurrencyRate, EventRule, Visit
from visits.rules import apply_events

pytestmark = [pytest.mark.django_db, pytest.mark.spec("4.currencies", clause="六.3")]

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 4, 7, 10, 0, tzinfo=SHANGHAI)  # Tuesday after Qingming 2026


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def txn(account, amount, currency, kind="cash"):
    return AccountEventFactory(
        account=account,
        event_type="transaction",
        amount=Decimal(amount),
        currency=currency,
        txn_kind=kind,
        occurred_at=NOW,
    )


def large(account, amount, currency, kind="cash") -> bool:
    event = txn(account, amount, currency, kind)
    return bool(apply_events([event])[event.pk])


def account_of(branch, account_type, customer_type="personal"):
    customer = CustomerFactory(branch=branch, customer_type=customer_type)
    return AccountFactory(customer=customer, account_type=account_type)


def test_the_reference_rates_have_defaults_for_five_currencies(db):
    assert set(CurrencyRate.objects.values_list("code", flat=True)) == {
        "USD",
        "EUR",
        "GBP",
        "HKD",
        "JPY",
    }


@pytest.mark.parametrize(("amount", "is_large"), [("9999.99", False), ("10000.00", True)])
def test_cash_in_usd_is_large_from_usd_10000(branch, amount, is_large):
    assert large(account_of(branch, "personal_savings"), amount, "USD") is is_large


def test_usd_45000_cash_is_large_and_jpy_60000_is_not(branch):
    assert large(account_of(branch, "personal_savings"), "45000.00", "USD")
    assert not large(account_of(branch, "personal_savings"), "60000.00", "JPY")


def test_the_cny_threshold_still_applies_to_cny(branch):
    assert not large(account_of(branch, "personal_savings"), "49999.99", "CNY")
    assert large(account_of(branch, "personal_savings"), "50000.00", "CNY")


@pytest.mark.parametrize(
    ("account_type", "below", "at"),
    [
        ("personal_savings", "99999.99", "100000.00"),
        ("corporate", "199999.99", "200000.00"),
        ("special", "199999.99", "200000.00"),
    ],
)
def test_transfers_in_usd_by_account_type(branch, account_type, below, at):
    assert not large(account_of(branch, account_type), below, "USD", "transfer")
    assert large(account_of(branch, account_type), at, "USD", "transfer")


@pytest.mark.spec("4.special-accounts", clause="二")
def test_a_special_account_uses_the_corporate_thresholds(branch):
    assert large(account_of(branch, "special"), "5000000.00", "CNY", "transfer")
    assert not large(account_of(branch, "special"), "1999999.99", "CNY", "transfer")
    assert large(account_of(branch, "special"), "2000000.00", "CNY", "transfer")


@pytest.mark.spec("4.special-accounts", clause="二")
def test_an_administrator_may_set_other_thresholds_for_special_accounts(branch):
    EventRule.objects.filter(code="special_transfer_single_2m").update(
        threshold=Decimal("1000000"), version=2
    )
    EventRule.objects.filter(code="special_transfer_daily_2m").update(
        threshold=Decimal("1000000"), version=2
    )
    assert large(account_of(branch, "special"), "1000000.00", "CNY", "transfer")
    assert not large(account_of(branch, "corporate"), "1000000.00", "CNY", "transfer")


def test_the_rate_is_data_an_administrator_can_change(branch):
    # EUR 9,000 at 8.25 CNY / 7.10 CNY per USD is about USD 10,458: large.
    assert large(account_of(branch, "personal_savings"), "9000.00", "EUR")
    CurrencyRate.objects.filter(code="EUR").update(cny_per_unit=Decimal("7.500000"))
    # At 7.50 it is about USD 9,507: not large.
    assert not large(account_of(branch, "personal_savings"), "9000.00", "EUR")


def test_the_day_cumulative_is_judged_in_usd_for_other_currencies(branch):
    account = account_of(branch, "personal_savings")
    assert not large(account, "6000.00", "USD")
    assert large(account, "4000.00", "USD")  # USD 10,000 in the day
    assert Visit.objects.filter(account=account).count() == 1
