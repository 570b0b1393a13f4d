"""Writes that touch visits. Views, the API, admin actions and tasks all call these."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import Account, AccountEvent, EventType
from accounts.permissions import branches_visible_to
from core.audit import audit
from core.audit_actions import AuditAction
from core.config import callback_time
from core.masking import mask_address, mask_phone
from escalations.models import Urgency
from escalations.services import escalation_open
from visits.ingest import IDEMPOTENCY_CONFLICT, event_ingest_one
from visits.models import (
    AttemptOutcome,
    Channel,
    ContactAttempt,
    Handling,
    ItemStatus,
    TransactionCheck,
    UsageStatus,
    Visit,
    VisitKind,
    VisitPolicy,
    VisitRecord,
    VisitStatus,
)
from visits.transitions import visit_transition
from workspace.completion import transactions_denied_escalate, visit_complete


class WorkspaceError(Exception):
    """A state change the rules refuse; ``field`` names the form field to show it next to."""

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def calling_hours_now(now: datetime | None = None) -> bool:
    """SPEC §3: calls only inside calling hours (default 09:00-20:00, Beijing time, any day)."""
    local = timezone.localtime(now or timezone.now())
    start = callback_time("CALLING_HOURS_START")
    end = callback_time("CALLING_HOURS_END")
    return start <= local.time() < end


def visit_is_security_critical(visit: Visit) -> bool:
    """Do-not-contact yields only to visits about account security (suspected fraud)."""
    return visit.suspected_fraud


def contact_blocked_reason(visit: Visit, *, now: datetime | None = None) -> str:
    """Why a phone call may not be made now, or "" when it may."""
    if not calling_hours_now(now):
        return gettext("当前不在允许的呼叫时段内。")
    if visit.account.customer.do_not_contact and not visit_is_security_critical(visit):
        return gettext("客户已设置勿扰，仅安全类回访可以联系。")
    return ""


def _claimable(agent) -> "models.QuerySet[Visit]":
    # A list of ids (not a subquery) lets the planner walk the
    # (branch, status, -priority, due_at) index in order for each branch.
    branch_ids = list(branches_visible_to(agent).values_list("pk", flat=True))
    held = agent.profile.certifications.values("pk") if hasattr(agent, "profile") else []
    # Visits whose policy needs a certification the agent lacks are not theirs (SPEC §5).
    barred = VisitPolicy.objects.filter(required_certification__isnull=False).exclude(
        required_certification__in=held
    )
    return (
        Visit.objects.filter(
            branch_id__in=branch_ids,
            status=VisitStatus.PENDING,
            assigned_to__isnull=True,
        )
        .exclude(policy_id__in=barred.values("pk"))
        .order_by("-priority", "due_at", "pk")
    )


def _own_workable(agent, now: datetime) -> "models.QuerySet[Visit]":
    # The agent's own open visits that can be called now: not waiting for a later call-back
    # appointment, and not already tried today (phone attempts fall on different working days).
    return (
        Visit.objects.filter(
            assigned_to=agent, status__in=(VisitStatus.ASSIGNED, VisitStatus.IN_PROGRESS)
        )
        .filter(Q(callback_at__isnull=True) | Q(callback_at__lte=now))
        .exclude(last_attempt_on=timezone.localdate(now))
        .order_by("due_at", "pk")
    )


def visit_claim_next(*, agent) -> Visit | None:
    """The most urgent visit ``agent`` may work: suspected fraud first (their own or an
    unassigned one of their branches), then their own assigned visits by due time, then the top
    unassigned visit of their branches (overdue first, then priority and due time), which
    becomes theirs. Two agents pressing "next" at once get two different visits: rows locked by
    the other transaction are skipped (PostgreSQL SKIP LOCKED)."""
    now = timezone.now()
    skip = connection.features.has_select_for_update_skip_locked

    def first(queryset):
        return queryset.select_for_update(skip_locked=skip, of=("self",)).first()

    with transaction.atomic():
        own = _own_workable(agent, now)
        fraud_own = first(own.filter(suspected_fraud=True))
        fraud_pool = first(_claimable(agent).filter(suspected_fraud=True).order_by("due_at", "pk"))
        if fraud_own and (fraud_pool is None or fraud_own.due_at <= fraud_pool.due_at):
            return fraud_own
        visit = fraud_pool
        if visit is None:
            mine = first(own)
            if mine is not None:
                return mine
            # Two probes, each an ordered walk of the (branch, status, -priority, due_at) index,
            # rather than one sort of every open visit by an "is overdue" expression.
            for window in (Q(due_at__lt=now), Q(due_at__gte=now)):
                visit = first(_claimable(agent).filter(window))
                if visit is not None:
                    break
            else:
                return None
        visit_transition(visit=visit, to=VisitStatus.ASSIGNED, by=agent, now=now)
        audit(AuditAction.VISIT_CLAIM, actor=agent, obj=visit, after={"status": visit.status})
    return visit


def attempt_log(
    *,
    visit: Visit,
    agent,
    outcome: str,
    channel: str = Channel.PHONE,
    callback_at: datetime | None = None,
    note: str = "",
) -> ContactAttempt:
    """Log one contact attempt. The first attempt moves the visit to in progress; a "call back
    later" sets the appointment time that the worklist shows it at."""
    now = timezone.now()
    with transaction.atomic():
        visit = (
            Visit.objects.select_for_update().select_related("account__customer").get(pk=visit.pk)
        )
        if not visit.is_open:
            raise WorkspaceError(gettext("该回访已结束，不能再登记联系。"), field="outcome")
        if visit.assigned_to_id not in (None, agent.pk):
            raise WorkspaceError(gettext("该回访已分配给其他回访人员。"), field="outcome")
        if outcome not in AttemptOutcome.values:
            raise WorkspaceError(gettext("请选择联系结果。"), field="outcome")
        if channel == Channel.PHONE:
            if reason := contact_blocked_reason(visit, now=now):
                raise WorkspaceError(reason, field="outcome")
        if outcome == AttemptOutcome.CALLBACK:
            if callback_at is None:
                raise WorkspaceError(gettext("预约回拨需要填写时间。"), field="callback_at")
            if callback_at <= now:
                raise WorkspaceError(gettext("预约回拨时间必须晚于现在。"), field="callback_at")
        else:
            callback_at = None
        attempt = ContactAttempt.objects.create(
            visit=visit,
            channel=channel,
            agent=agent,
            started_at=now,
            ended_at=now,
            outcome=outcome,
            callback_at=callback_at,
            note=note[:500],
        )
        before = {"status": visit.status}
        visit.callback_at = callback_at
        fields = ["callback_at"]
        if channel == Channel.PHONE:
            visit.phone_attempts += 1
            visit.last_attempt_on = timezone.localdate(now)
            fields += ["phone_attempts", "last_attempt_on"]
        visit_transition(visit=visit, to=VisitStatus.IN_PROGRESS, by=agent, now=now, fields=fields)
        audit(
            AuditAction.VISIT_ATTEMPT,
            actor=agent,
            obj=visit,
            before=before,
            after={"status": visit.status, "outcome": outcome, "channel": channel},
        )
    return attempt


def _mask_reported(field: str, value: str) -> str:
    # A change reported on a call is a claim, not master data; it is kept masked (C2 data).
    if field in ("mobile", "landline"):
        return mask_phone(value)
    if field == "address":
        return mask_address(value)
    if field == "email" and "@" in value:
        name, _, domain = value.partition("@")
        return f"{name[:1]}***@{domain}"
    return value[:1] + "***" if value else ""


def info_change_follow_up(
    *, account, fields: list[str], by, source: str, extra: dict | None = None
):
    """An ``info_changed`` event through the same rules as core banking's, giving the
    information-change follow-up visit. The customer's master data is not touched."""

    event_ingest_one(
        account=account,
        event_id=f"{source}-{uuid.uuid4()}",
        event_type=EventType.INFO_CHANGED,
        data={"fields": list(fields), "source": source, **(extra or {})},
        created_by=by,
        audit_action=AuditAction.EVENT_RAISE,
    )


def record_submit(
    *, visit: Visit, agent, data: dict, transaction_checks: dict[int, bool]
) -> VisitRecord:
    """Complete a reached visit with its structured record (SPEC §2), in one transaction.

    ``data`` holds VisitRecord fields plus: ``reported_values`` {field: new value},
    ``escalate_department`` / ``escalate_urgency`` when handling is "escalated",
    ``resolution_words`` for a follow-up visit. ``transaction_checks`` maps each flagged
    event id to True (confirmed) or False (denied: escalated urgently to security)."""

    now = timezone.now()
    with transaction.atomic():
        visit = (
            Visit.objects.select_for_update().select_related("account__customer").get(pk=visit.pk)
        )
        if VisitRecord.objects.filter(visit=visit).exists():
            raise WorkspaceError(gettext("该回访已提交记录，记录不可修改。"))
        if not visit.is_open:
            raise WorkspaceError(gettext("该回访已结束。"))
        if visit.assigned_to_id not in (None, agent.pk):
            raise WorkspaceError(gettext("该回访已分配给其他回访人员。"))
        if not visit_reached(visit):
            raise WorkspaceError(gettext("请先登记“已接通”的联系结果，再填写回访记录。"))
        if not (data.get("reminder_anti_fraud") and data.get("reminder_safe_operation")):
            raise WorkspaceError(
                gettext("必须完成安全提示后才能提交。"), field="reminder_anti_fraud"
            )
        customer = visit.account.customer
        flagged = {e.pk: e for e in flagged_events_of(visit)}
        if set(transaction_checks) != set(flagged):
            raise WorkspaceError(gettext("请逐笔确认或否认列出的交易。"), field="transactions")
        is_follow_up = visit.kind == VisitKind.FOLLOW_UP
        if is_follow_up and data.get("resolution_satisfied") is None:
            raise WorkspaceError(
                gettext("跟踪回访需要记录客户对处理结果是否满意。"), field="resolution_satisfied"
            )
        handling = data.get("handling") or Handling.NO_PROBLEM
        if handling == Handling.ESCALATED and not data.get("escalate_department"):
            raise WorkspaceError(gettext("转办需要选择处理部门。"), field="escalate_department")

        reported = {
            f: _mask_reported(f, str(v))
            for f, v in (data.get("reported_values") or {}).items()
            if data.get(f"{f}_status") == ItemStatus.CHANGED
        }
        changed_fields = [
            f
            for f in ("mobile", "email", "landline", "address")
            if data.get(f"{f}_status") == ItemStatus.CHANGED
        ]
        for f in changed_fields:
            reported.setdefault(f, "")
        needs = list(data.get("needs") or []) if customer.marketing_consent else []
        answers = {}
        if is_follow_up:
            answers["resolution_words"] = data.get("resolution_words", "")
        record = VisitRecord.objects.create(
            visit=visit,
            channel=Channel.PHONE,
            submitted_at=now,
            submitted_by=agent,
            mobile_status=data.get("mobile_status") or ItemStatus.NOT_ASKED,
            email_status=data.get("email_status") or ItemStatus.NOT_ASKED,
            landline_status=data.get("landline_status") or ItemStatus.NOT_ASKED,
            address_status=data.get("address_status") or ItemStatus.NOT_ASKED,
            reported_changes=reported,
            id_expiry_checked=bool(data.get("id_expiry_checked")),
            id_expiry_reported=data.get("id_expiry_reported"),
            transactions_reviewed=bool(flagged) or bool(data.get("transactions_reviewed")),
            usage_frequency=data.get("usage_frequency", ""),
            amount_range=data.get("amount_range", ""),
            usage_channels=list(data.get("usage_channels") or []),
            online_banking=data.get("online_banking") or UsageStatus.UNKNOWN,
            mobile_banking=data.get("mobile_banking") or UsageStatus.UNKNOWN,
            sms_alerts=data.get("sms_alerts") or UsageStatus.UNKNOWN,
            channel_feedback=data.get("channel_feedback", ""),
            needs=needs,
            needs_note=data.get("needs_note", "")[:300] if needs else "",
            reminder_anti_fraud=True,
            reminder_safe_operation=True,
            feedback=data.get("feedback", ""),
            satisfaction=data.get("satisfaction"),
            handling=handling,
            problem=data.get("problem", ""),
            answers=answers,
            resolution_satisfied=bool(data["resolution_satisfied"]) if is_follow_up else None,
        )
        TransactionCheck.objects.bulk_create(
            [
                TransactionCheck(record=record, event_id=pk, confirmed=ok)
                for pk, ok in transaction_checks.items()
            ]
        )
        denied = [flagged[pk] for pk, ok in transaction_checks.items() if not ok]
        if denied:
            transactions_denied_escalate(visit=visit, record=record, events=denied, by=agent)
        if handling == Handling.ESCALATED:
            escalation_open(
                visit=visit,
                department=data["escalate_department"],
                urgency=data.get("escalate_urgency") or Urgency.NORMAL,
                description=data.get("problem") or data.get("feedback") or "-",
                by=agent,
                record=record,
            )
        visit_complete(
            visit=visit,
            record=record,
            by=agent,
            words=data.get("resolution_words", ""),
            details={
                "handling": handling,
                "denied_transactions": [e.pk for e in denied],
                "reported_changes": changed_fields,
            },
            now=now,
        )
        if changed_fields:
            # Once the visit is completed: a change reported on a special-event visit would
            # otherwise join that same visit and close with it, and nobody would confirm it.
            info_change_follow_up(
                account=visit.account,
                fields=changed_fields,
                by=agent,
                source="visit",
                extra={"visit": visit.pk},
            )
    return record


def visit_reached(visit: Visit) -> bool:
    """The latest phone attempt reached the customer (the record may be filled)."""
    return last_phone_attempt_reached(
        visit.attempts.filter(channel=Channel.PHONE).order_by("-started_at", "-pk")[:1]
    )


def last_phone_attempt_reached(attempts) -> bool:
    """Among ``attempts`` (a visit's, in any order), the latest phone attempt reached the
    customer: ``visit_reached`` on attempts already loaded."""
    phone = [a for a in attempts if a.channel == Channel.PHONE]
    if not phone:
        return False
    return max(phone, key=lambda a: (a.started_at, a.pk)).outcome == AttemptOutcome.REACHED


def flagged_events_of(visit: Visit) -> list[AccountEvent]:
    """The large or unusual transactions that triggered the visit: the customer confirms or
    denies each on the call. Only the event rules link events to visits (special-event and
    new-account visits): a periodic visit has none, and no query is made for it."""
    if visit.kind == VisitKind.PERIODIC:
        return []
    return list(
        AccountEvent.objects.filter(triggers__visit=visit)
        .filter(Q(flagged=True) | Q(event_type=EventType.TRANSACTION))
        .distinct()
        .order_by("occurred_at", "pk")
    )


def teller_event_register(
    *,
    teller,
    account: Account,
    event_type: str,
    fields: Sequence[str] = (),
    text: str = "",
    event_id: str = "",
) -> tuple[AccountEvent, list[Visit]]:
    """A special event seen at the counter, through the one event writer and the same rules as
    core banking's events. ``event_id`` (``teller-<uuid>``, made when the form is shown) makes
    a form sent twice store its event once; a new one is made when none is given."""

    if event_type == EventType.INFO_CHANGED:
        data = {"fields": list(fields), "source": "counter"}
    elif event_type == EventType.COMPLAINT:
        data = {"text": text, "channel": "counter"}
    else:
        raise WorkspaceError(gettext("柜面只能登记信息变更或投诉。"), field="event_type")
    event_id = event_id or teller_event_id()
    with transaction.atomic():
        result = event_ingest_one(
            account=account,
            event_id=event_id,
            event_type=event_type,
            data=data,
            created_by=teller,
            audit_action=AuditAction.EVENT_REGISTER,
            audit_details={"type": event_type, "account": account.masked_number},
        )
        if result.status == 409:
            raise WorkspaceError(str(IDEMPOTENCY_CONFLICT))
        event = AccountEvent.objects.get(client__isnull=True, event_id=event_id)
        visits = list(Visit.objects.filter(triggers__event=event).order_by("pk"))
    return event, visits


def teller_event_id() -> str:
    return f"teller-{uuid.uuid4()}"
