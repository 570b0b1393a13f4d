"""Generation statements without JIT compilation (PostgreSQL): every INSERT of visits runs with
jit off, and the connection's own setting is back once the run is over (SET LOCAL)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from accounts.models import Account
from tests.factories import CustomerFactory
from visits.generation import generate_due_visits

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NOW = datetime(2026, 3, 10, 1, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _jit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        return cursor.fetchone()[0]


def test_visit_inserts_run_without_jit_and_the_session_keeps_its_setting(branch):
    customer = CustomerFactory(branch=branch)
    today = NOW.date()
    Account.objects.bulk_create(
        Account(
            number=f"8{i:015d}",
            customer=customer,
            branch=branch,
            account_type="personal_savings",
            # One new account, one whose yearly cycle is due.
            opened_on=today - timedelta(days=(2, 400)[i]),
        )
        for i in range(2)
    )
    with connection.cursor() as cursor:
        cursor.execute("SET jit = on")
    seen = []

    def wrapper(execute, sql, params, many, context):
        if sql.lstrip().startswith("INSERT INTO visits_visit"):
            seen.append(_jit())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        created = generate_due_visits(now=NOW)
    assert created == {"new_account": 1, "periodic": 1}
    # The new-account statement and the one chunk of periodic visits.
    assert seen == ["off", "off"]
    assert _jit() == "on"
