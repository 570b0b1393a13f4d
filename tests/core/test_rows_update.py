"""``core.pg.rows_update``: one UPDATE for many instances (PostgreSQL), ``bulk_update``
elsewhere; each row gets its own values, the other rows and fields are left alone."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.pg import rows_update
from tests.factories import VisitFactory
from visits.models import Visit

pytestmark = [pytest.mark.django_db]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_each_row_gets_its_own_values_and_nothing_else_changes():
    first, second, untouched = VisitFactory(), VisitFactory(), VisitFactory()
    before = {
        v.pk: (v.due_at, v.priority, v.suspected_fraud, v.reason) for v in Visit.objects.all()
    }
    first.due_at = datetime(2026, 3, 11, 9, 30, tzinfo=SHANGHAI)
    first.priority, first.suspected_fraud = 100, True
    second.due_at = datetime(2027, 1, 4, 17, 0, tzinfo=SHANGHAI)
    second.priority, second.suspected_fraud = 10, False
    first.reason = second.reason = "not saved: not among the fields"

    with CaptureQueriesContext(connection) as queries:
        count = rows_update([first, second], ["due_at", "priority", "suspected_fraud"])

    assert count == 2
    if connection.vendor == "postgresql":
        assert len(queries) == 1
    got = {v.pk: (v.due_at, v.priority, v.suspected_fraud, v.reason) for v in Visit.objects.all()}
    assert got[first.pk] == (first.due_at, 100, True, before[first.pk][3])
    assert got[second.pk] == (second.due_at, 10, False, before[second.pk][3])
    assert got[untouched.pk] == before[untouched.pk]


def test_a_null_is_written_as_null_and_nothing_to_update_is_no_query():
    visit = VisitFactory(policy_version=3)
    visit.policy_version = None
    visit.updated_at = visit.updated_at + timedelta(minutes=5)
    rows_update([visit], ["policy_version", "updated_at"])
    visit_after = Visit.objects.get(pk=visit.pk)
    assert visit_after.policy_version is None
    assert visit_after.updated_at == visit.updated_at

    with CaptureQueriesContext(connection) as queries:
        assert rows_update([], ["due_at"]) == 0
    assert len(queries) == 0
