"""Two handlers act on the same escalation at the same moment (PostgreSQL, real row locks):
exactly one succeeds, the other is told why."""

import threading

import pytest
from django.db import connection

from escalations.actions import EscalationError
from escalations.models import Escalation, EscalationStatus, EscalationStep
from escalations.services import escalation_accept, escalation_resolve

pytestmark = [
    pytest.mark.spec("7.escalation"),
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def calendar_2025(transactional_db):
    """A transactional test starts from an empty database (data migrations flushed)."""
    from core.calendar_plans import calendar_year_load
    from core.models import CalendarYear

    if not CalendarYear.objects.filter(year=2025).exists():
        calendar_year_load(year=2025)


def race(*calls):
    """Run each call in its own thread (own connection), released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = ("ok", call())
        except EscalationError as exc:
            outcomes[index] = ("refused", str(exc))
        except Exception as exc:  # surfaced by the assertions below
            outcomes[index] = ("crashed", repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.parametrize("attempt", range(3))
def test_it_lets_one_of_two_handlers_accept(
    attempt, make_escalation, named_handler, second_handler
):
    escalation = make_escalation()
    outcomes = race(
        lambda: escalation_accept(escalation=escalation, by=named_handler),
        lambda: escalation_accept(escalation=escalation, by=second_handler),
    )
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["ok", "refused"], outcomes
    [winner] = [value for kind, value in outcomes if kind == "ok"]
    [message] = [value for kind, value in outcomes if kind == "refused"]
    winner_name = winner.handler.get_full_name()
    assert f"已被 {winner_name} 受理" in message
    fresh = Escalation.objects.get(pk=escalation.pk)
    assert fresh.status == EscalationStatus.ACCEPTED and fresh.handler_id == winner.handler_id
    assert EscalationStep.objects.filter(escalation=escalation, action="accept").count() == 1


def test_it_lets_one_of_two_handlers_resolve(make_escalation, named_handler, second_handler):
    escalation = escalation_accept(escalation=make_escalation(), by=named_handler)
    outcomes = race(
        lambda: escalation_resolve(escalation=escalation, by=named_handler, result="结果甲"),
        lambda: escalation_resolve(escalation=escalation, by=second_handler, result="结果乙"),
    )
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
    [message] = [value for kind, value in outcomes if kind == "refused"]
    assert "处理完毕" in message
    fresh = Escalation.objects.get(pk=escalation.pk)
    assert fresh.status == EscalationStatus.RESOLVED
    assert fresh.result in ("结果甲", "结果乙")
    assert EscalationStep.objects.filter(escalation=escalation, action="resolve").count() == 1
