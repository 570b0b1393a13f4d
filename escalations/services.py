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
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Department, Role
from accounts.permissions import (
    departments_visible_to,
    has_role,
    role_of,
    staff_of_branch,
    staff_of_department,
)
from core import calendar as business_calendar
from core.audit import audit
from core.models import Notification
from escalations.access import escalations_visible_to
from escalations.models import Escalation, EscalationStatus, EscalationStep, Urgency
from visits.access import visits_visible_to
from visits.models import Visit, VisitKind, VisitRecord, VisitStatus
from visits.opening import visit_open_or_join

logger = logging.getLogger(__name__)

S = EscalationStatus


class Action:
    OPEN = "open"
    ACCEPT = "accept"
    RESOLVE = "resolve"
    REPLY = "reply"
    CLOSE = "close"
    REOPEN = "reopen"
    TRANSFER = "transfer"
    EXTEND = "extend"
    OVERDUE = "overdue"  # a system event on the timeline, not a transition


ACTION_LABELS = {
    Action.OPEN: gettext_lazy("转办"),
    Action.ACCEPT: gettext_lazy("受理"),
    Action.RESOLVE: gettext_lazy("处理完毕"),
    Action.REPLY: gettext_lazy("回复客户"),
    Action.CLOSE: gettext_lazy("客户满意，关闭"),
    Action.REOPEN: gettext_lazy("客户不满意，重开"),
    Action.TRANSFER: gettext_lazy("转交其他部门"),
    Action.EXTEND: gettext_lazy("延长时限"),
    Action.OVERDUE: gettext_lazy("超时"),
}

# The whole lifecycle. Anything not listed is refused.
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.OPENED, Action.ACCEPT): S.ACCEPTED,
    (S.REOPENED, Action.ACCEPT): S.ACCEPTED,
    (S.ACCEPTED, Action.RESOLVE): S.RESOLVED,
    (S.RESOLVED, Action.REPLY): S.REPLIED,
    (S.REPLIED, Action.CLOSE): S.CLOSED,
    (S.REPLIED, Action.REOPEN): S.REOPENED,
    # Transfer: back to "waiting for acceptance" at the other department, deadline kept.
    (S.OPENED, Action.TRANSFER): S.OPENED,
    (S.ACCEPTED, Action.TRANSFER): S.OPENED,
    (S.REOPENED, Action.TRANSFER): S.REOPENED,
    # Extending the deadline keeps the status.
    (S.OPENED, Action.EXTEND): S.OPENED,
    (S.ACCEPTED, Action.EXTEND): S.ACCEPTED,
    (S.REOPENED, Action.EXTEND): S.REOPENED,
}

# With the department, the deadline running.
ACTIVE_STATUSES = (S.OPENED, S.ACCEPTED, S.REOPENED)

# Who may take each action. ``None`` (the system, e.g. an online questionnaire) may open,
# close and reopen only.
ACTION_ROLES = {
    Action.OPEN: (Role.AGENT, Role.SUPERVISOR),
    Action.ACCEPT: (Role.HANDLER,),
    Action.RESOLVE: (Role.HANDLER,),
    Action.TRANSFER: (Role.HANDLER, Role.SUPERVISOR),
    Action.REPLY: (Role.AGENT, Role.SUPERVISOR),
    Action.CLOSE: (Role.AGENT, Role.SUPERVISOR),
    Action.REOPEN: (Role.AGENT, Role.SUPERVISOR),
    Action.EXTEND: (Role.SUPERVISOR,),
}
SYSTEM_ACTIONS = (Action.OPEN, Action.CLOSE, Action.REOPEN)

DEFAULT_DEADLINES = {
    Urgency.URGENT: ("working_hours", 4),
    Urgency.HIGH: ("business_days", 1),
    Urgency.NORMAL: ("business_days", 3),
}


class EscalationError(Exception):
    """A refused escalation action; ``str(error)`` is a translated message for the user."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


# --- Deadlines ------------------------------------------------------------------------------


def _callback(key, default):
    return settings.CALLBACK.get(key, default)


def escalation_deadline(*, urgency: str, start: datetime) -> datetime:
    """The deadline of an escalation opened (or reopened) at ``start``, counted on the business
    calendar: urgent 4 working hours, high 1 business day, normal 3 business days by default
    (``CALLBACK["ESCALATION_DEADLINES"]``)."""

    deadlines = _callback("ESCALATION_DEADLINES", DEFAULT_DEADLINES)
    if urgency not in deadlines:
        raise EscalationError(_("紧急程度无效：%(value)s") % {"value": urgency}, field="urgency")
    unit, amount = deadlines[urgency]
    try:
        if unit == "working_hours":
            return business_calendar.add_working_hours(start, amount)
        if unit == "business_days":
            return business_calendar.due_after_business_days(start, amount)
    except business_calendar.CalendarNotCovered as exc:
        raise EscalationError(
            _(
                "业务日历未覆盖该日期，无法计算处理时限；请系统管理员先导入节假日安排。（%(detail)s）"
            )
            % {"detail": exc}
        ) from exc
    raise EscalationError(_("处理时限单位无效：%(value)s") % {"value": unit})


def _follow_up_due(start: datetime) -> datetime:
    days = _callback("ESCALATION_FOLLOW_UP_BUSINESS_DAYS", 1)
    try:
        return business_calendar.due_after_business_days(start, days)
    except business_calendar.CalendarNotCovered as exc:
        raise EscalationError(
            _(
                "业务日历未覆盖该日期，无法安排跟踪回访；请系统管理员先导入节假日安排。（%(detail)s）"
            )
            % {"detail": exc}
        ) from exc


def near_deadline_threshold(now: datetime | None = None) -> datetime:
    """An active escalation whose deadline falls before this moment is "near its deadline":
    less than one working hour left (one calendar computation per page, not per row)."""

    now = now or timezone.now()
    try:
        return business_calendar.add_working_hours(now, 1)
    except business_calendar.CalendarNotCovered:
        return now + timedelta(hours=1)


def raise_after() -> timedelta:
    return timedelta(hours=_callback("ESCALATION_RAISE_AFTER_HOURS", 24))


def escalations_raised(queryset: QuerySet[Escalation], now: datetime | None = None):
    """Active escalations raised to the supervisors: missed a deadline twice or more, or
    overdue by more than ``ESCALATION_RAISE_AFTER_HOURS``."""
    now = now or timezone.now()
    return queryset.filter(status__in=ACTIVE_STATUSES).filter(
        Q(overdue_count__gte=2) | Q(deadline_at__lt=now - raise_after())
    )


# --- Helpers --------------------------------------------------------------------------------


def person(user) -> str:
    if user is None:
        return _("系统")
    return user.get_full_name() or user.get_username()


def _when(moment: datetime | None) -> str:
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
    when = _when(last.at) if last else ""
    phrases = {
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
    if action == Action.OPEN:
        in_scope = visits_visible_to(by).filter(pk=visit.pk).exists()
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


def _detail_link(escalation: Escalation) -> str:
    return reverse("escalations:detail", args=[escalation.pk])


@dataclass
class _Mail:
    to: str
    subject: str
    body: str


def _notify(users, *, message: str, link: str, key: str | None) -> list[_Mail]:
    """In-app notifications, one per user; with a ``key`` a user is notified once for it even
    if the caller runs twice. Returns the e-mails owed for the newly created ones."""
    users = [u for u in {u.pk: u for u in users if u is not None}.values()]
    if not users:
        return []
    rows = [
        Notification(
            user=user,
            message=message[:300],
            link=link,
            dedup_key=f"{key}:u{user.pk}" if key else None,
        )
        for user in users
    ]
    if key:
        existing = set(
            Notification.objects.filter(dedup_key__in=[r.dedup_key for r in rows]).values_list(
                "dedup_key", flat=True
            )
        )
        rows = [r for r in rows if r.dedup_key not in existing]
    # ignore_conflicts: a concurrent run that inserted the same key first wins, quietly.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return [
        _Mail(to=r.user.email, subject=message[:120], body=f"{message}\n\n{link}")
        for r in rows
        if r.user.email
    ]


def _send_mails(mails: list[_Mail]) -> None:
    """After the commit of the surrounding transaction (at once outside one): an e-mail is never
    sent for a notification that was rolled back."""
    if mails:
        transaction.on_commit(lambda: _deliver(mails))


def _deliver(mails: list[_Mail]) -> None:
    messages = [EmailMessage(m.subject, m.body, None, [m.to]) for m in mails]
    try:
        get_connection().send_messages(messages)
    except Exception:  # the in-app notification is kept; a failed e-mail must not undo it
        logger.exception("escalation e-mail failed", extra={"count": len(messages)})


def _department_handlers(department: Department):
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
    deadline = escalation_deadline(urgency=urgency, start=now)
    with transaction.atomic():
        escalation = Escalation.objects.create(
            visit=visit,
            record=record,
            account_id=visit.account_id,
            department=department,
            urgency=urgency,
            description=description,
            deadline_at=deadline,
            opened_by=by,
            created_at=now,
        )
        _record_step(escalation, Action.OPEN, "", S.OPENED, by, description, at=now)
        _audit(Action.OPEN, escalation, by, None, visit=visit.pk, urgency=urgency)
        mails = _notify(
            _department_handlers(department),
            message=_("新转办事项 #%(pk)s（%(urgency)s），处理时限 %(deadline)s")
            % {
                "pk": escalation.pk,
                "urgency": escalation.get_urgency_display(),
                "deadline": _when(deadline),
            },
            link=_detail_link(escalation),
            key=f"esc:{escalation.pk}:open",
        )
    _send_mails(mails)
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
        mails = _notify(
            [escalation.opened_by],
            message=_("转办 #%(pk)s 已处理完毕，请回复客户。") % {"pk": escalation.pk},
            link=_detail_link(escalation),
            key=f"esc:{escalation.pk}:resolved:r{escalation.round}",
        )
    _send_mails(mails)
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
        follow_up, created = visit_open_or_join(
            account=escalation.account,
            kind=VisitKind.FOLLOW_UP,
            due_at=_follow_up_due(now),
            priority=60,
            reason=_("转办 #%(pk)s 跟踪回访：客户是否满意") % {"pk": escalation.pk},
        )
        if created and has_role(by, Role.AGENT):
            # The agent who spoke to the customer asks the follow-up question too.
            if Visit.objects.filter(pk=follow_up.pk, status=VisitStatus.PENDING).update(
                status=VisitStatus.ASSIGNED, assigned_to=by, assigned_at=now
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
        escalation.deadline_at = escalation_deadline(urgency=escalation.urgency, start=now)
        escalation.handler = None
        escalation.resolved_at = None
        escalation.overdue_notified_at = None
        escalation.save(
            update_fields=[
                "status", "round", "deadline_at", "handler", "resolved_at",
                "overdue_notified_at", "updated_at",
            ]
        )  # fmt: skip
        _record_step(escalation, Action.REOPEN, before["status"], new_status, by, words, at=now)
        _audit(Action.REOPEN, escalation, by, before)
        mails = _notify(
            _department_handlers(escalation.department),
            message=_("转办 #%(pk)s 客户不满意，已重开（第 %(round)s 轮），处理时限 %(deadline)s")
            % {
                "pk": escalation.pk,
                "round": escalation.round,
                "deadline": _when(escalation.deadline_at),
            },
            link=_detail_link(escalation),
            key=f"esc:{escalation.pk}:reopen:r{escalation.round}",
        )
    _send_mails(mails)
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
        mails = _notify(
            _department_handlers(department),
            message=_("转办 #%(pk)s 由 %(old)s 转交给本部门，处理时限 %(deadline)s")
            % {
                "pk": escalation.pk,
                "old": old_department.name,
                "deadline": _when(escalation.deadline_at),
            },
            link=_detail_link(escalation),
            key=f"esc:{escalation.pk}:transfer:{escalation.steps.count()}",
        )
    _send_mails(mails)
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
                % {"current": _when(escalation.deadline_at)},
                field="new_deadline",
            )
        if new_deadline <= timezone.now():
            raise EscalationError(_("新的处理时限必须晚于现在。"), field="new_deadline")
        before = _snapshot(escalation)
        escalation.deadline_at = new_deadline
        escalation.save(update_fields=["deadline_at", "updated_at"])
        note = _("%(old)s → %(new)s：%(reason)s") % {
            "old": _when(before["deadline_at"]),
            "new": _when(new_deadline),
            "reason": reason,
        }
        _record_step(escalation, Action.EXTEND, before["status"], new_status, by, note)
        _audit(Action.EXTEND, escalation, by, before)
    return escalation


# --- Monitoring -----------------------------------------------------------------------------


def _overdue_filter(now: datetime) -> Q:
    # Not yet flagged for *this* deadline: never flagged, or flagged before the deadline was
    # moved (reopened with a new deadline, or extended).
    return Q(status__in=ACTIVE_STATUSES, deadline_at__lt=now) & (
        Q(overdue_notified_at__isnull=True) | Q(overdue_notified_at__lt=F("deadline_at"))
    )


def escalation_mark_overdue(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Flag the escalations past their deadline (``overdue_count`` + 1 once per missed
    deadline), and notify the handler (or, if nobody accepted it, the department's handlers)
    and the supervisors of the account's branch, in the app and by e-mail.

    Safe to run twice or concurrently: rows are claimed with ``FOR UPDATE SKIP LOCKED`` and
    the conditional update excludes rows already flagged for this deadline; the unique
    ``dedup_key`` of each notification is the last line of defence. E-mails go out only for
    notifications created by this run. Returns the number of escalations flagged."""
    now = now or timezone.now()
    flagged = 0
    branch_supervisors: dict[int, list] = {}
    department_handlers: dict[int, list] = {}
    while True:
        mails: list[_Mail] = []
        with transaction.atomic():
            ids = list(
                Escalation.objects.select_for_update(skip_locked=True)
                .filter(_overdue_filter(now))
                .order_by("deadline_at", "pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            Escalation.objects.filter(pk__in=ids).filter(_overdue_filter(now)).update(
                overdue_count=F("overdue_count") + 1, overdue_notified_at=now
            )
            escalations = list(
                Escalation.objects.filter(pk__in=ids).select_related(
                    "handler", "department", "account"
                )
            )
            EscalationStep.objects.bulk_create(
                [
                    EscalationStep(
                        escalation=e,
                        action=Action.OVERDUE,
                        from_status=e.status,
                        to_status=e.status,
                        at=now,
                        note=_("已超过处理时限 %(deadline)s（第 %(count)s 次超时）")
                        % {"deadline": _when(e.deadline_at), "count": e.overdue_count},
                    )
                    for e in escalations
                ]
            )
            for e in escalations:
                if e.department_id not in department_handlers:
                    department_handlers[e.department_id] = _department_handlers(e.department)
                branch_id = e.account.branch_id
                if branch_id not in branch_supervisors:
                    branch_supervisors[branch_id] = list(
                        staff_of_branch(e.account.branch, Role.SUPERVISOR)
                    )
                handlers = [e.handler] if e.handler else department_handlers[e.department_id]
                raised = e.overdue_count >= 2
                message = _("转办 #%(pk)s（%(department)s）已超过处理时限 %(deadline)s")
                if raised:
                    message = _(
                        "转办 #%(pk)s（%(department)s）再次超时（第 %(count)s 次），已上报监督人员"
                    )
                mails += _notify(
                    [*handlers, *branch_supervisors[branch_id]],
                    message=message
                    % {
                        "pk": e.pk,
                        "department": e.department.name,
                        "deadline": _when(e.deadline_at),
                        "count": e.overdue_count,
                    },
                    link=_detail_link(e),
                    key=f"esc:{e.pk}:overdue:{e.overdue_count}",
                )
                audit(
                    "escalation.overdue",
                    obj=e,
                    after={"deadline_at": e.deadline_at, "overdue_count": e.overdue_count},
                )
            flagged += len(escalations)
        _send_mails(mails)
    return flagged


# --- Statistics -----------------------------------------------------------------------------


def escalation_stats(
    *, since: datetime, until: datetime, queryset: QuerySet[Escalation] | None = None
) -> list[dict]:
    """Per department, for escalations opened in [since, until): how many were opened,
    resolved within their deadline, ever overdue (or overdue now), the average time from
    opening to resolution, and the share reopened at least once. One aggregate query; pass a
    scoped ``queryset`` (``escalations_visible_to(user)``) for a user's view."""
    now = timezone.now()
    base = queryset if queryset is not None else Escalation.objects.all()
    rows = (
        base.filter(created_at__gte=since, created_at__lt=until)
        .order_by()
        .values("department_id", "department__code", "department__name")
        .annotate(
            opened=Count("pk"),
            resolved=Count("pk", filter=Q(resolved_at__isnull=False)),
            resolved_in_time=Count(
                "pk", filter=Q(resolved_at__isnull=False, resolved_at__lte=F("deadline_at"))
            ),
            overdue=Count(
                "pk",
                filter=Q(overdue_count__gt=0) | Q(status__in=ACTIVE_STATUSES, deadline_at__lt=now),
            ),
            reopened=Count("pk", filter=Q(round__gt=1)),
            avg_resolve=Avg(
                ExpressionWrapper(F("resolved_at") - F("created_at"), output_field=DurationField()),
                filter=Q(resolved_at__isnull=False),
            ),
        )
        .order_by("department__code")
    )
    stats = []
    for row in rows:
        avg = row["avg_resolve"]
        if avg is not None and not isinstance(avg, timedelta):
            avg = timedelta(microseconds=avg)  # SQLite returns microseconds
        stats.append(
            {
                "department_id": row["department_id"],
                "department_code": row["department__code"],
                "department": row["department__name"],
                "opened": row["opened"],
                "resolved": row["resolved"],
                "resolved_in_time": row["resolved_in_time"],
                "overdue": row["overdue"],
                "reopened": row["reopened"],
                "avg_time_to_resolve": avg,
                "reopen_rate": round(row["reopened"] / row["opened"], 4) if row["opened"] else 0.0,
            }
        )
    return stats


# --- Reading --------------------------------------------------------------------------------


def escalations_with_timeline(queryset: QuerySet[Escalation]) -> QuerySet[Escalation]:
    """What ``templates/escalations/_timeline.html`` needs, in a fixed number of queries."""
    return queryset.select_related("department", "handler", "opened_by").prefetch_related(
        "steps__by"
    )
