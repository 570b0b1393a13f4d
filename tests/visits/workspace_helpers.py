"""Helpers of the agent-workspace tests: a moment inside calling hours, open visits."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone

from tests.factories import AccountFactory, CustomerFactory, VisitFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Tuesday 2026-12-01 10:00 Beijing time: a working day, inside calling hours.
CALL_TIME = dt.datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)

RECORD_OK = {
    "r-mobile_status": "confirmed",
    "r-email_status": "not_asked",
    "r-landline_status": "not_asked",
    "r-address_status": "confirmed",
    "r-online_banking": "uses",
    "r-mobile_banking": "uses",
    "r-sms_alerts": "unknown",
    "r-reminder_anti_fraud": "on",
    "r-reminder_safe_operation": "on",
    "r-feedback": "一切正常",
    "r-satisfaction": "5",
    "r-handling": "no_problem",
}


def open_visit(branch, *, agent=None, status=None, **kwargs):
    account = kwargs.pop("account", None) or AccountFactory(customer=CustomerFactory(branch=branch))
    if status is None:
        status = "assigned" if agent else "pending"
    return VisitFactory(
        account=account,
        assigned_to=agent,
        assigned_at=timezone.now() if agent else None,
        status=status,
        **kwargs,
    )


def ensure_seed_data() -> None:
    """Kept for the tests that call it; tests/fixtures.py does it before every test now."""
    from tests.fixtures import ensure_reference_data

    ensure_reference_data()
