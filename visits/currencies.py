"""Amounts in other currencies than CNY (SPEC §4 "Currencies").

CNY thresholds apply to CNY. Other currencies are judged on their USD equivalent, after the
PBOC large-value rules (a rule's ``usd_threshold``), at the reference rates kept as data in
``CurrencyRate`` (CNY per one unit). A currency without a rate is refused at the API."""

from __future__ import annotations

from decimal import Decimal

from visits.models import CurrencyRate, EventRule

CNY = "CNY"
USD = "USD"


def is_cny(currency: str) -> bool:
    return currency in ("", CNY)  # events registered at the counter carry no currency


def reference_rates() -> dict[str, Decimal]:
    """Currency code -> CNY per unit, one query."""
    return dict(CurrencyRate.objects.values_list("code", "cny_per_unit"))


def known_currencies() -> set[str]:
    return {CNY, *CurrencyRate.objects.values_list("code", flat=True)}


def usd_factor(currency: str, rates: dict[str, Decimal]) -> Decimal | None:
    """USD per one unit of ``currency`` (exactly 1 for USD), or None without the rates."""
    if currency == USD:
        return Decimal(1)
    rate, usd = rates.get(currency), rates.get(USD)
    if rate is None or usd is None:
        return None
    return rate / usd


def cny_equivalent(amount: Decimal, currency: str, rates: dict[str, Decimal]) -> Decimal | None:
    if is_cny(currency):
        return amount
    rate = rates.get(currency)
    return None if rate is None else amount * rate


def reaches_threshold(
    rule: EventRule, amount: Decimal | None, currency: str, rates: dict[str, Decimal]
) -> bool:
    """A single amount at or above the rule's threshold: CNY against ``threshold``; another
    currency against ``usd_threshold`` in USD, or, when the rule has none, its CNY equivalent
    against ``threshold``."""
    if amount is None:
        return False
    if is_cny(currency):
        return rule.threshold is not None and amount >= rule.threshold
    if rule.usd_threshold is not None:
        factor = usd_factor(currency, rates)
        return factor is not None and amount * factor >= rule.usd_threshold
    cny = cny_equivalent(amount, currency, rates)
    return cny is not None and rule.threshold is not None and cny >= rule.threshold


def is_small(
    rule: EventRule, amount: Decimal | None, currency: str, rates: dict[str, Decimal]
) -> bool:
    """Under the burst rule's threshold (CNY, or the CNY equivalent of another currency)."""
    if amount is None:
        return False
    if rule.threshold is None:
        return True
    if is_cny(currency):  # most of a batch: compared as it is
        return amount < rule.threshold
    cny = cny_equivalent(amount, currency, rates)
    return cny is not None and cny < rule.threshold
