"""The escalation loop (SPEC §7): a problem the agent cannot solve on the call goes to a
department, is answered within a deadline, replied to the customer and followed up until the
customer is satisfied.

The lifecycle is the explicit table ``TRANSITIONS`` (status x action -> new status). Every
service below takes keyword-only arguments, runs in one transaction, locks the escalation row
(``select_for_update``) and checks the status against the table *after* taking the lock, so of
two handlers acting at once exactly one succeeds and the other gets an ``EscalationError``
saying why ("已被 张三 受理"). Every transition writes an ``EscalationStep`` and an audit entry.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.models import Department, Role
from accounts.permissions import (
    departments_visible_to,
    has_role,
    role_of,
    staff_of_department,
)
from core.audit import audit
from core.notifications import notify, send_mails
from core.presentation import person_name
from escalations.access import escalations_visible_to
from escalations.actions import (
    ACTION_LABELS,
    ACTION_ROLES,
    SYSTEM_ACTIONS,
    TRANSITIONS,
    Action,
    EscalationError,
    S,
)
from escalations.deadlines import escalation_deadline, follow_up_due
from escalations.models import Escalation, EscalationStep, Urgency
from visits.access import visits_visible_to
from visits.models import Visit, VisitKind, VisitRecord, VisitStatus
from visits.opening import visit_open_or_join
from visits.transitions import visits_transition

logger = logging.getLogger(__name__)

# --- Helpers --------------------------------------------------------------------------------


def person(user) -> str:
    return _("系统") if user is None else person_name(user)


def format_when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return date_format(timezone.localtime(moment), "Y-m-d H:i")


def _lock(escalation: Escalation) -> Escalation:
    return Escalation.objects.select_for_update().get(pk=escalation.pk)


def _state_phrase(escalation: Escalation) -> str:
    """Why the escalation is where it is, naming who put it there: "已被 张三 受理"."""
    last = (
        escalation.steps.filter(to_status=escalation.status)
        .exclude(action__in=[Action.OVERDUE, Action.EXTEND])
        .select_related("by")
        .order_by("-at", "-pk")
        .first()
    )
    who = person(last.by) if last else ""
    when = format_when(last.at) if last else ""
    phrases: dict[str, str] = {
        S.OPENED: _("尚未受理"),
        S.REOPENED: _("已重开，尚未受理"),
        S.ACCEPTED: _("已被 %(who)s 受理（%(when)s）"),
        S.RESOLVED: _("已被 %(who)s 处理完毕（%(when)s）"),
        S.REPLIED: _("已由 %(who)s 回复客户（%(when)s），等待跟踪回访"),
        S.CLOSED: _("已关闭（%(when)s）"),
    }
    return phrases[escalation.status] % {"who": who, "when": when}


def _check_transition(escalation: Escalation, action: str) -> str:
    new_status = TRANSITIONS.get((escalation.status, action))
    if new_status is None:
        raise EscalationError(
            _("无法%(action)s：该转办%(state)s。")
            % {"action": ACTION_LABELS[action], "state": _state_phrase(escalation)}
        )
    return new_status


def _check_actor(escalation: Escalation | None, action: str, by, *, visit: Visit | None = None):
    if by is None:
        if action in SYSTEM_ACTIONS:
            return
        raise EscalationError(
            _("%(action)s需要登录的员工操作。") % {"action": ACTION_LABELS[action]}
        )
    if not has_role(by, *ACTION_ROLES[action]):
        raise EscalationError(_("您的角色无权%(action)s。") % {"action": ACTION_LABELS[action]})
    if visit is not None:
        in_scope = visits_visible_to(by).filter(pk=visit.pk).exists()
    elif escalation is None:
        raise ValueError("An action needs the escalation it acts on, or the visit it opens.")
    elif role_of(by) == Role.HANDLER:
        in_scope = departments_visible_to(by).filter(pk=escalation.department_id).exists()
    else:
        in_scope = escalations_visible_to(by).filter(pk=escalation.pk).exists()
    if not in_scope:
        raise EscalationError(
            _("该转办不在您的处理范围内，无法%(action)s。") % {"action": ACTION_LABELS[action]}
        )


def _record_step(escalation, action, from_status, to_status, by, note="", at=None):
    return EscalationStep.objects.create(
        escalation=escalation,
        action=action,
        from_status=from_status,
        to_status=to_status,
        by=by,
        note=note,
        at=at or timezone.now(),
    )


def _audit(action: str, escalation: Escalation, by, before: dict | None, **after):
    audit(
        f"escalation.{action}",
        actor=by,
        obj=escalation,
        before=before,
        after={
            "status": escalation.status,
            "department": escalation.department_id,
            "deadline_at": escalation.deadline_at,
            "round": escalation.round,
            **after,
        },
    )


def _snapshot(escalation: Escalation) -> dict:
    return {
        "status": escalation.status,
        "department": escalation.department_id,
        "deadline_at": escalation.deadline_at,
        "handler": escalation.handler_id,
        "round": escalation.round,
    }


def _required_text(value: str, field: str, message) -> str:
    value = (value or "").strip()
    if not value:
        raise EscalationError(message, field=field)
    return value


def detail_link(escalation: Escalation) -> str:
    return reverse("escalations:detail", args=[escalation.pk])


def department_handlers(department: Department):
    return list(staff_of_department(department, Role.HANDLER))


# --- Transitions ----------------------------------------------------------------------------


def escalation_open(
    *,
    visit: Visit,
    department: Department,
    urgency: str,
    description: str,
    by,
    record: VisitRecord | None = None,
) -> Escalation:
    """Transfer a problem to ``department``; the deadline follows from ``urgency``."""
    if urgency not in Urgency.values:
        raise EscalationError(_("请选择有效的紧急程度。"), field="urgency")
    if department is None:
        raise EscalationError(_("请选择处理部门。"), field="department")
    description = _required_text(description, "description", _("请填写问题描述。"))
    _check_actor(None, Action.OPEN, by, visit=visit)
    now = timezone.now()
    due = escalation_deadline(urgency=urgency, start=now)
    deadline = due.at
    with transaction.atomic():
        escalation = Escalation.objects.create(
            visit=visit,
            record=record,
            account_id=visit.account_id,
            department=department,
            urgency=urgency,
            description=description,
            deadline_at=deadline,
            due_provisional=due.provisional,
            opened_by=by,
            created_at=now,
        )
        _record_step(escalation, Action.OPEN, "", S.OPENED, by, description, at=now)
        _audit(Action.OPEN, escalation, by, None, visit=visit.pk, urgency=urgency)
        mails = notify(
            department_handlers(department),
            message=_("新转办事项 #%(pk)s（%(urgency)s），处理时限 %(deadline)s")
            % {
                "pk": escalation.pk,
                "urgency": escalation.get_urgency_display(),
                "deadline": format_when(deadline),
            },
            link=detail_link(escalation),
            key=f"esc:{escalation.pk}:open",
        )
    send_mails(mails)
    return escalation


def escalation_accept(*, escalation: Escalation, by) -> Escalation:
    with transaction.atomic():
        escalation = _lock(escalation)
        _check_actor(escalation, Action.ACCEPT, by)
        new_status = _check_transition(escalation, Action.ACCEPT)
        before = _snapshot(escalation)
        escalation.status = new_status
        escalation.handler = by
        escalation.save(update_fields=["status", "handler", "updated_at"])
        _record_step(escalation, Action.ACCEPT, before["status"], new_status, by)
        _audit(Action.ACCEPT, escalation, by, before, handler=by.pk)
    return escalation


def escalation_resolve(*, escalation: Escalation, by, result: str) -> Escalation:
    result = _required_text(result, "result", _("请填写处理结果。"))
    with transaction.atomic():
        escalation = _lock(escalation)
        _check_actor(escalation, Action.RESOLVE, by)
        new_status = _check_transition(escalation, Action.RESOLVE)
        before = _snapshot(escalation)
        now = timezone.now()
        escalation.status = new_status
        escalation.result = result
        escalation.resolved_at = now
        escalation.save(update_fields=["status", "result", "resolved_at", "updated_at"])
        _record_step(escalation, Action.RESOLVE, before["status"], new_status, by, result, at=now)
        _audit(Action.RESOLVE, escalation, by, before, in_time=now <= escalation.deadline_at)
        # Tell the agent who opened it that the result is ready for the customer.
        mails = notify(
            [escalation.opened_by],
            message=_("转办 #%(pk)s 已处理完毕，请回复客户。") % {"pk": escalation.pk},
            link=detail_link(escalation),
            key=f"esc:{escalation.pk}:resolved:r{escalation.round}",
        )
    send_mails(mails)
    return escalation


def escalation_reply(*, escalation: Escalation, by, note: str) -> Escalation:
    """The agent told the customer the result. A follow-up visit (kind follow_up, due in one
    business day) is opened, or joined if the account already has an open one, and linked."""

    note = _required_text(note, "note", _("请填写回复客户的情况。"))
    with transaction.atomic():
        escalation = _lock(escalation)
        _check_actor(escalation, Action.REPLY, by)
        new_status = _check_transition(escalation, Action.REPLY)
        before = _snapshot(escalation)
        now = timezone.now()
        due = follow_up_due(now)
        follow_up, created = visit_open_or_join(
            account=escalation.account,
            kind=VisitKind.FOLLOW_UP,
            due_at=due.at,
            due_provisional=due.provisional,
            priority=60,
            reason=_("转办 #%(pk)s 跟踪回访：客户是否满意") % {"pk": escalation.pk},
        )
        if created and has_role(by, Role.AGENT):
            # The agent who spoke to the customer asks the follow-up question too.
            if visits_transition(
                Visit.objects.filter(pk=follow_up.pk),
                to=VisitStatus.ASSIGNED,
                assigned_to=by,
                now=now,
            ):
                follow_up.status, follow_up.assigned_to, follow_up.assigned_at = (
                    VisitStatus.ASSIGNED,
                    by,
                    now,
                )
        escalation.status = new_status
        escalation.follow_up_visit = follow_up
        escalation.save(update_fields=["status", "follow_up_visit", "updated_at"])
        _record_step(escalation, Action.REPLY, before["status"], new_status, by, note, at=now)
        _audit(Action.REPLY, escalation, by, before, follow_up_visit=follow_up.pk)
    return escalation


def escalation_close(*, escalation: Escalation, by, words: str = "") -> Escalation:
    """The customer is satisfied with the result (asked on the follow-up visit)."""
    with transaction.atomic():
        escalation = _lock(escalation)
        _check_actor(escalation, Action.CLOSE, by)
        new_status = _check_transition(escalation, Action.CLOSE)
        before = _snapshot(escalation)
        now = timezone.now()
        escalation.status = new_status
        escalation.closed_at = now
        escalation.save(update_fields=["status", "closed_at", "updated_at"])
        note = (words or "").strip() or _("客户表示满意")
        _record_step(escalation, Action.CLOSE, before["status"], new_status, by, note, at=now)
        _audit(Action.CLOSE, escalation, by, before)
    return escalation


def escalation_reopen(*, escalation: Escalation, by, words: str) -> Escalation:
    """The customer is not satisfied: back to the department with the customer's words, next
    round, a new deadline from the urgency."""
    words = _required_text(words, "words", _("客户不满意时请记录客户的原话或意见。"))
    with transaction.atomic():
        escalation = _lock(escalation)
        _check_actor(escalation, Action.REOPEN, by)
        new_status = _check_transition(escalation, Action.REOPEN)
        before = _snapshot(escalation)
        now = timezone.now()
        escalation.status = new_status
        escalation.round += 1
        deadline = escalation_deadline(urgency=escalation.urgency, start=now)
        escalation.deadline_at, escalation.due_provisional = deadline.at, deadline.provisional
        escalation.handler = None
        escalation.resolved_at = None
        escalation.overdue_notified_at = None
        escalation.save(
            update_fields=[
                "status", "round", "deadline_at", "due_provisional", "handler", "resolved_at",
                "overdue_notified_at", "updated_at",
            ]
        )  # fmt: skip
        _record_step(escalation, Action.REOPEN, before["status"], new_status, by, words, at=now)
        _audit(Action.REOPEN, escalation, by, before)
        mails = notify(
            department_handlers(escalation.department),
            message=_("转办 #%(pk)s 客户不满意，已重开（第 %(round)s 轮），处理时限 %(deadline)s")
            % {
                "pk": escalation.pk,
                "round": escalation.round,
                "deadline": format_when(escalation.deadline_at),
            },
            link=detail_link(escalation),
            key=f"esc:{escalation.pk}:reopen:r{escalation.round}",
        )
    send_mails(mails)
    return escalation


def escalation_follow_up_outcome(*, visit: Visit, satisfied: bool, words: str, by) -> list:
    """The customer's answer on the follow-up visit ``visit``: closes every escalation it
    follows up when satisfied, otherwise reopens each (``escalation_reopen``). Escalations
    already past this step are left alone, so a repeated call changes nothing."""
    words = (words or "").strip()
    if not satisfied and not words:
        raise EscalationError(_("客户不满意时请记录客户的原话或意见。"), field="words")
    with transaction.atomic():
        followed = (
            Escalation.objects.select_for_update()
            .filter(follow_up_visit=visit, status=S.REPLIED)
            .order_by("pk")
        )
        if satisfied:
            return [escalation_close(escalation=e, by=by, words=words) for e in followed]
        return [escalation_reopen(escalation=e, by=by, words=words) for e in followed]


def escalation_transfer(
    *, escalation: Escalation, by, department: Department, reason: str
) -> Escalation:
    """Hand the escalation to another department; the deadline is kept."""
    reason = _required_text(reason, "reason", _("请填写转交原因。"))
    if department is None:
        raise EscalationError(_("请选择要转交的部门。"), field="department")
    with transaction.atomic():
        escalation = _lock(escalation)
        _check_actor(escalation, Action.TRANSFER, by)
        new_status = _check_transition(escalation, Action.TRANSFER)
        if department.pk == escalation.department_id:
            raise EscalationError(_("不能转交给当前部门。"), field="department")
        before = _snapshot(escalation)
        old_department = escalation.department
        escalation.status = new_status
        escalation.department = department
        escalation.handler = None
        escalation.save(update_fields=["status", "department", "handler", "updated_at"])
        note = _("%(old)s → %(new)s：%(reason)s") % {
            "old": old_department.name,
            "new": department.name,
            "reason": reason,
        }
        _record_step(escalation, Action.TRANSFER, before["status"], new_status, by, note)
        _audit(Action.TRANSFER, escalation, by, before, from_department=old_department.pk)
        mails = notify(
            department_handlers(department),
            message=_("转办 #%(pk)s 由 %(old)s 转交给本部门，处理时限 %(deadline)s")
            % {
                "pk": escalation.pk,
                "old": old_department.name,
                "deadline": format_when(escalation.deadline_at),
            },
            link=detail_link(escalation),
            key=f"esc:{escalation.pk}:transfer:{escalation.steps.count()}",
        )
    send_mails(mails)
    return escalation


def escalation_extend(
    *, escalation: Escalation, by, new_deadline: datetime, reason: str
) -> Escalation:
    """A supervisor moves the deadline later, with a reason."""
    reason = _required_text(reason, "reason", _("请填写延期原因。"))
    if new_deadline is None:
        raise EscalationError(_("请填写新的处理时限。"), field="new_deadline")
    if timezone.is_naive(new_deadline):
        new_deadline = timezone.make_aware(new_deadline)
    with transaction.atomic():
        escalation = _lock(escalation)
        _check_actor(escalation, Action.EXTEND, by)
        new_status = _check_transition(escalation, Action.EXTEND)
        if new_deadline <= escalation.deadline_at:
            raise EscalationError(
                _("新的处理时限必须晚于当前时限 %(current)s。")
                % {"current": format_when(escalation.deadline_at)},
                field="new_deadline",
            )
        if new_deadline <= timezone.now():
            raise EscalationError(_("新的处理时限必须晚于现在。"), field="new_deadline")
        before = _snapshot(escalation)
        # A deadline set by hand is no longer counted on the calendar.
        escalation.deadline_at, escalation.due_provisional = new_deadline, False
        escalation.save(update_fields=["deadline_at", "due_provisional", "updated_at"])
        note = _("%(old)s → %(new)s：%(reason)s") % {
            "old": format_when(before["deadline_at"]),
            "new": format_when(new_deadline),
            "reason": reason,
        }
        _record_step(escalation, Action.EXTEND, before["status"], new_status, by, note)
        _audit(Action.EXTEND, escalation, by, before)
    return escalation
