"""Per-department statistics for the supervision dashboard."""

import datetime as dt

import pytest

from escalations.access import escalations_visible_to
from escalations.models import EscalationStatus
from escalations.selectors import escalation_stats

from .conftest import at

pytestmark = [pytest.mark.spec("7.statistics"), pytest.mark.django_db]


def test_it_counts_per_department(make_escalation, ebanking_dept, supervisor, other_agent):
    deadline = at(2025, 9, 12, 17, 0)
    make_escalation(  # resolved in 2 hours, in time
        EscalationStatus.RESOLVED, deadline_at=deadline, resolved_at=at(2025, 9, 10, 12, 0)
    )
    make_escalation(  # resolved late (6 hours), overdue once, reopened once
        EscalationStatus.CLOSED,
        deadline_at=at(2025, 9, 10, 14, 0),
        resolved_at=at(2025, 9, 10, 16, 0),
        overdue_count=1,
        round=2,
    )
    make_escalation(EscalationStatus.ACCEPTED, deadline_at=deadline)
    make_escalation(EscalationStatus.OPENED, department=ebanking_dept, deadline_at=deadline)

    rows = escalation_stats(since=at(2025, 9, 1, 0, 0), until=at(2025, 10, 1, 0, 0))
    by_code = {row["department_code"]: row for row in rows}
    security = by_code["security"]
    assert security["opened"] == 3
    assert security["resolved"] == 2
    assert security["resolved_in_time"] == 1
    assert security["overdue"] == 1
    assert security["reopened"] == 1
    assert security["reopen_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert security["avg_time_to_resolve"] == dt.timedelta(hours=4)
    ebanking = by_code["ebanking"]
    assert (ebanking["opened"], ebanking["resolved"], ebanking["avg_time_to_resolve"]) == (
        1,
        0,
        None,
    )

    assert escalation_stats(since=at(2025, 10, 1, 0, 0), until=at(2025, 11, 1, 0, 0)) == []
    assert (
        escalation_stats(
            since=at(2025, 9, 1, 0, 0),
            until=at(2025, 10, 1, 0, 0),
            queryset=escalations_visible_to(other_agent),
        )
        == []
    )
