"""Reference rates and USD-equivalent thresholds (SPEC §4 "Currencies", "Special accounts").

The rates are DEFAULTS (CNY per one unit, about the PBOC central parity of late 2025) for an
administrator to keep current in the admin; they only decide whether a foreign-currency
transaction is large, never an amount shown to anyone. A USD amount is compared with the USD
thresholds directly, whatever the USD rate. Literal data: no project code is imported."""

from decimal import Decimal

from django.db import migrations

RATES = [
    ("USD", "7.100000"),
    ("EUR", "8.250000"),
    ("GBP", "9.450000"),
    ("HKD", "0.913000"),
    ("JPY", "0.047000"),
]

# PBOC large-value rules for foreign currencies: cash USD 10,000; personal transfers
# USD 100,000; corporate (and special-account) transfers USD 200,000.
USD_THRESHOLDS = {
    "cash_single_50k": "10000",
    "cash_daily_50k": "10000",
    "personal_transfer_single_500k": "100000",
    "personal_transfer_daily_500k": "100000",
    "corporate_transfer_single_2m": "200000",
    "corporate_transfer_daily_2m": "200000",
}

# Special accounts use the corporate thresholds until an administrator sets others.
# (code, name, rule_type, threshold, usd_threshold)
SPECIAL_RULES = [
    ("special_transfer_single_2m", "特殊账户单笔转账≥200万元", "single_transaction", "2000000", "200000"),
    ("special_transfer_daily_2m", "特殊账户当日累计转账≥200万元", "daily_cumulative", "2000000", "200000"),
]


def seed(apps, schema_editor):
    CurrencyRate = apps.get_model("visits", "CurrencyRate")
    EventRule = apps.get_model("visits", "EventRule")
    for code, rate in RATES:
        CurrencyRate.objects.get_or_create(code=code, defaults={"cny_per_unit": Decimal(rate)})
    for code, usd in USD_THRESHOLDS.items():
        EventRule.objects.filter(code=code, usd_threshold__isnull=True).update(
            usd_threshold=Decimal(usd)
        )
    for code, name, rule_type, threshold, usd in SPECIAL_RULES:
        EventRule.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "rule_type": rule_type,
                "account_type": "special",
                "txn_kind": "transfer",
                "threshold": Decimal(threshold),
                "usd_threshold": Decimal(usd),
                "suspected_fraud": False,
                "due_unit": "business_days",
                "due_amount": 1,
                "priority": 70,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("visits", "0003_currency_rates_usd_thresholds_cancel_reason")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
