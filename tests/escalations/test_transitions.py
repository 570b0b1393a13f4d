"""Every cell of the transition table: allowed moves happen and are recorded; every other
(status, action) pair is refused with a message and changes nothing."""

import datetime as dt

import pytest

from core.models import AuditLogEntry
from escalations.actions import TRANSITIONS, Action, EscalationError
from escalations.models import Escalation, EscalationStatus, EscalationStep
from escalations.services import (
    escalation_accept,
    escalation_close,
    escalation_extend,
    escalation_reopen,
    escalation_reply,
    escalation_resolve,
    escalation_transfer,
)

pytestmark = [pytest.mark.spec("7.escalation"), pytest.mark.django_db]

ACTIONS = [
    Action.ACCEPT,
    Action.RESOLVE,
    Action.REPLY,
    Action.CLOSE,
    Action.REOPEN,
    Action.TRANSFER,
    Action.EXTEND,
]


def perform(action, escalation, people):
    if action == Action.ACCEPT:
        return escalation_accept(escalation=escalation, by=people["handler"])
    if action == Action.RESOLVE:
        return escalation_resolve(escalation=escalation, by=people["handler"], result="已重置密码")
    if action == Action.REPLY:
        return escalation_reply(escalation=escalation, by=people["agent"], note="已电话告知客户")
    if action == Action.CLOSE:
        return escalation_close(escalation=escalation, by=people["agent"])
    if action == Action.REOPEN:
        return escalation_reopen(escalation=escalation, by=people["agent"], words="还是登录不了")
    if action == Action.TRANSFER:
        return escalation_transfer(
            escalation=escalation,
            by=people["handler"],
            department=people["ebanking_dept"],
            reason="属于电子银行部职责",
        )
    if action == Action.EXTEND:
        return escalation_extend(
            escalation=escalation,
            by=people["supervisor"],
            new_deadline=escalation.deadline_at + dt.timedelta(days=2),
            reason="需要调取监控录像",
        )
    raise AssertionError(action)


@pytest.fixture
def people(agent, handler, supervisor, ebanking_dept):
    return {
        "agent": agent,
        "handler": handler,
        "supervisor": supervisor,
        "ebanking_dept": ebanking_dept,
    }


def test_it_has_a_path_from_opened_to_closed_and_back():
    assert TRANSITIONS[(EscalationStatus.REPLIED, Action.REOPEN)] == EscalationStatus.REOPENED
    assert TRANSITIONS[(EscalationStatus.REOPENED, Action.ACCEPT)] == EscalationStatus.ACCEPTED
    assert not any(status == EscalationStatus.CLOSED for status, _ in TRANSITIONS)


@pytest.mark.parametrize("status", EscalationStatus.values)
@pytest.mark.parametrize("action", ACTIONS)
def test_it_follows_the_transition_table(status, action, make_escalation, people):
    escalation = make_escalation(status)
    steps_before = EscalationStep.objects.filter(escalation=escalation).count()
    audits_before = AuditLogEntry.objects.count()
    expected = TRANSITIONS.get((status, action))
    if expected is None:
        with pytest.raises(EscalationError) as refused:
            perform(action, escalation, people)
        assert "无法" in str(refused.value)
        fresh = Escalation.objects.get(pk=escalation.pk)
        assert fresh.status == status
        assert fresh.deadline_at == escalation.deadline_at
        assert fresh.department_id == escalation.department_id
        assert EscalationStep.objects.filter(escalation=escalation).count() == steps_before
        assert AuditLogEntry.objects.count() == audits_before
    else:
        result = perform(action, escalation, people)
        assert result.status == expected
        assert Escalation.objects.get(pk=escalation.pk).status == expected
        step = EscalationStep.objects.filter(escalation=escalation).latest("pk")
        assert (step.action, step.from_status, step.to_status) == (action, status, expected)
        assert step.by is not None
        assert AuditLogEntry.objects.filter(action=f"escalation.{action}").exists()


def test_it_says_who_accepted_it_already(make_escalation, named_handler, second_handler):
    escalation = make_escalation()
    escalation_accept(escalation=escalation, by=named_handler)
    with pytest.raises(EscalationError, match="已被 张三 受理"):
        escalation_accept(escalation=escalation, by=second_handler)


def test_it_says_who_resolved_it_already(make_escalation, named_handler, second_handler):
    escalation = escalation_accept(escalation=make_escalation(), by=named_handler)
    escalation_resolve(escalation=escalation, by=named_handler, result="已解冻")
    with pytest.raises(EscalationError, match="已被 张三 处理完毕"):
        escalation_resolve(escalation=escalation, by=second_handler, result="重复处理")


class TestWhoMayAct:
    def test_it_refuses_a_handler_of_another_department(self, make_escalation, ebanking_handler):
        escalation = make_escalation()
        with pytest.raises(EscalationError, match="不在您的处理范围内"):
            escalation_accept(escalation=escalation, by=ebanking_handler)
        assert Escalation.objects.get(pk=escalation.pk).status == EscalationStatus.OPENED

    def test_it_refuses_an_agent_accepting(self, make_escalation, agent):
        with pytest.raises(EscalationError, match="无权受理"):
            escalation_accept(escalation=make_escalation(), by=agent)

    def test_it_refuses_a_handler_extending(self, make_escalation, handler):
        escalation = make_escalation()
        with pytest.raises(EscalationError, match="无权延长时限"):
            escalation_extend(
                escalation=escalation,
                by=handler,
                new_deadline=escalation.deadline_at + dt.timedelta(days=1),
                reason="忙",
            )

    def test_it_refuses_an_agent_of_another_branch_replying(self, make_escalation, other_agent):
        escalation = make_escalation(EscalationStatus.RESOLVED)
        with pytest.raises(EscalationError, match="不在您的处理范围内"):
            escalation_reply(escalation=escalation, by=other_agent, note="x")

    def test_it_lets_the_system_close_but_not_accept(self, make_escalation):
        closed = escalation_close(escalation=make_escalation(EscalationStatus.REPLIED), by=None)
        assert closed.status == EscalationStatus.CLOSED
        with pytest.raises(EscalationError):
            escalation_accept(escalation=make_escalation(), by=None)


class TestInputs:
    def test_it_needs_a_result(self, make_escalation, handler):
        escalation = make_escalation(EscalationStatus.ACCEPTED)
        with pytest.raises(EscalationError) as refused:
            escalation_resolve(escalation=escalation, by=handler, result="  ")
        assert refused.value.field == "result"

    def test_it_needs_the_customers_words_to_reopen(self, make_escalation, agent):
        escalation = make_escalation(EscalationStatus.REPLIED)
        with pytest.raises(EscalationError) as refused:
            escalation_reopen(escalation=escalation, by=agent, words="")
        assert refused.value.field == "words"
        assert Escalation.objects.get(pk=escalation.pk).status == EscalationStatus.REPLIED

    def test_it_refuses_a_transfer_to_the_same_department(
        self, make_escalation, handler, security_dept
    ):
        with pytest.raises(EscalationError, match="当前部门") as refused:
            escalation_transfer(
                escalation=make_escalation(), by=handler, department=security_dept, reason="x"
            )
        assert refused.value.field == "department"

    def test_it_refuses_an_earlier_deadline(self, make_escalation, supervisor):
        escalation = make_escalation()
        with pytest.raises(EscalationError, match="必须晚于当前时限") as refused:
            escalation_extend(
                escalation=escalation,
                by=supervisor,
                new_deadline=escalation.deadline_at - dt.timedelta(hours=1),
                reason="x",
            )
        assert refused.value.field == "new_deadline"
