"""Reply to the customer -> follow-up visit -> satisfied closes, unsatisfied reopens."""

import pytest

from escalations.actions import EscalationError
from escalations.models import Escalation, EscalationStatus
from escalations.services import (
    escalation_accept,
    escalation_follow_up_outcome,
    escalation_reply,
    escalation_resolve,
)
from visits.models import Visit, VisitKind, VisitStatus

from .conftest import at

pytestmark = [pytest.mark.spec("7.follow-up", clause="九.3"), pytest.mark.django_db]


def resolved(make_escalation, handler, result="已重置网银密码"):
    escalation = escalation_accept(escalation=make_escalation(), by=handler)
    return escalation_resolve(escalation=escalation, by=handler, result=result)


def test_it_opens_a_follow_up_visit_due_in_one_business_day(make_escalation, handler, agent):
    escalation = escalation_reply(
        escalation=resolved(make_escalation, handler), by=agent, note="已告知客户处理结果"
    )
    follow_up = escalation.follow_up_visit
    assert escalation.status == EscalationStatus.REPLIED
    assert follow_up.kind == VisitKind.FOLLOW_UP
    assert follow_up.account == escalation.account
    # Replied Wednesday 2025-09-10: due at the end of Thursday.
    assert follow_up.due_at == at(2025, 9, 11, 17, 0)
    assert follow_up.status == VisitStatus.ASSIGNED and follow_up.assigned_to == agent


def test_it_joins_an_open_follow_up_visit(make_escalation, handler, agent):
    first = escalation_reply(escalation=resolved(make_escalation, handler), by=agent, note="a")
    second = escalation_reply(escalation=resolved(make_escalation, handler), by=agent, note="b")
    assert first.follow_up_visit_id == second.follow_up_visit_id
    assert Visit.objects.filter(kind=VisitKind.FOLLOW_UP).count() == 1


def test_it_closes_every_escalation_of_a_satisfied_follow_up(make_escalation, handler, agent):
    first = escalation_reply(escalation=resolved(make_escalation, handler), by=agent, note="a")
    second = escalation_reply(escalation=resolved(make_escalation, handler), by=agent, note="b")
    done = escalation_follow_up_outcome(
        visit=first.follow_up_visit, satisfied=True, words="满意", by=agent
    )
    assert {e.pk for e in done} == {first.pk, second.pk}
    for escalation in Escalation.objects.filter(pk__in=[first.pk, second.pk]):
        assert escalation.status == EscalationStatus.CLOSED
        assert escalation.closed_at is not None


def test_it_reopens_with_the_customers_words_and_goes_round_again(make_escalation, handler, agent):
    escalation = escalation_reply(
        escalation=resolved(make_escalation, handler), by=agent, note="已告知"
    )
    first_follow_up = escalation.follow_up_visit
    [reopened] = escalation_follow_up_outcome(
        visit=first_follow_up, satisfied=False, words="网银还是登录不了", by=agent
    )
    assert reopened.status == EscalationStatus.REOPENED
    assert reopened.round == 2
    assert reopened.steps.latest("pk").note == "网银还是登录不了"
    # A repeated submission of the same follow-up changes nothing.
    assert (
        escalation_follow_up_outcome(
            visit=first_follow_up, satisfied=False, words="again", by=agent
        )
        == []
    )
    # Second round.
    Visit.objects.filter(pk=first_follow_up.pk).update(status=VisitStatus.COMPLETED)
    again = escalation_resolve(
        escalation=escalation_accept(escalation=reopened, by=handler),
        by=handler,
        result="更换U盾后已可登录",
    )
    again = escalation_reply(escalation=again, by=agent, note="再次告知")
    assert again.follow_up_visit_id != first_follow_up.pk
    [closed] = escalation_follow_up_outcome(
        visit=again.follow_up_visit, satisfied=True, words="", by=agent
    )
    assert closed.status == EscalationStatus.CLOSED
    actions = list(closed.steps.values_list("action", flat=True))
    assert actions == [
        "open", "accept", "resolve", "reply", "reopen", "accept", "resolve", "reply", "close",
    ]  # fmt: skip


def test_it_needs_words_when_unsatisfied(make_escalation, handler, agent):
    escalation = escalation_reply(
        escalation=resolved(make_escalation, handler), by=agent, note="已告知"
    )
    with pytest.raises(EscalationError) as refused:
        escalation_follow_up_outcome(
            visit=escalation.follow_up_visit, satisfied=False, words=" ", by=agent
        )
    assert refused.value.field == "words"
    assert Escalation.objects.get(pk=escalation.pk).status == EscalationStatus.REPLIED
