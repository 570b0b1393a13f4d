"""Complaints about callback work, on the regulator's clock."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from accounts.permissions import has_role, staff_of_branch
from core.audit import audit
from core.audit_actions import AuditAction
from core.calendar import BusinessCalendar, Due, DueUnit, business_tz, due
from core.calendar_plans import register_recompute
from core.config import callback_int
from core.notifications import notifications_read_about, notify, send_mails
from supervision.models import (
    Complaint,
    ComplaintChangeKind,
    ComplaintChangeRequest,
    ComplaintStatus,
)
from visits.models import VisitRecord

# --- Complaints about the callback work --------------------------------------------------------

DECISION_DAYS = 15
COMPLEX_DECISION_DAYS = 30
MAX_EXTENSION_DAYS = 30


def change_request_key(change) -> str:
    """The notification key of a change request awaiting a decision."""
    return f"complaint-change:{change.pk}"


def overdue_key_prefix(complaint) -> str:
    """What the keys of a complaint's overdue notices begin with (one per missed deadline)."""
    return f"complaint:{complaint.pk}:overdue:"


def complaint_decision_due(
    received_at: dt.datetime, *, is_complex: bool, extension_days: int
) -> Due:
    """The regulator's clock: 15 calendar days (30 when complex) plus an approved extension,
    ending at the end of the last day (SPEC §8)."""
    base = COMPLEX_DECISION_DAYS if is_complex else DECISION_DAYS
    return due(received_at, DueUnit.CALENDAR_DAYS, base + extension_days)


def _decision_due_set(complaint: Complaint) -> list[str]:
    """Set the complaint's decision due time from its clock; returns the fields written."""
    decision = complaint_decision_due(
        complaint.received_at,
        is_complex=complaint.is_complex,
        extension_days=complaint.extension_days,
    )
    complaint.decision_due_at, complaint.due_provisional = decision.at, decision.provisional
    return ["decision_due_at", "due_provisional"]


def complaint_decisions_recompute(calendar: BusinessCalendar) -> int:
    """Recompute the provisional decision due times of unanswered complaints (when a calendar
    year is loaded). Returns the number changed."""
    changed = 0
    for complaint in (
        Complaint.objects.select_for_update()
        .filter(due_provisional=True)
        .exclude(status=ComplaintStatus.ANSWERED)
        .order_by("pk")
    ):
        before = complaint.decision_due_at
        fields = _decision_due_set(complaint)
        if complaint.decision_due_at != before or not complaint.due_provisional:
            complaint.save(update_fields=fields)
            changed += 1
    return changed


register_recompute("complaints", complaint_decisions_recompute)


def complaint_involved_ids(complaint: Complaint) -> set[int]:
    """Who may not investigate: the agent complained about, the visit's agent and the
    record's author, and whoever registered the complaint."""
    ids = {complaint.agent_id, complaint.registered_by_id}
    visit = complaint.visit
    if visit is not None:
        ids.add(visit.assigned_to_id)
        record = VisitRecord.objects.filter(visit_id=visit.pk).only("submitted_by").first()
        if record is not None:
            ids.add(record.submitted_by_id)
    return {pk for pk in ids if pk is not None}


def _visit_agent(visit):
    record = VisitRecord.objects.filter(visit=visit).select_related("submitted_by").first()
    if record is not None and record.submitted_by_id:
        return record.submitted_by
    return visit.assigned_to


def complaint_register(
    *,
    source: str,
    text: str,
    by=None,
    received_at: dt.datetime | None = None,
    visit=None,
    agent=None,
    contact_name: str = "",
    contact_phone: str = "",
    is_complex: bool = False,
    request=None,
) -> Complaint:
    """Registers a complaint (staff from the hotline or suggestion box; the public form with
    by=None). Linked to the visit, its customer, branch and agent when known. ``is_complex``
    asks for the complex marking: the complaint runs on 15 days until another supervisor
    approves it."""
    received_at = received_at or timezone.now()
    if visit is not None and agent is None:
        agent = _visit_agent(visit)
    complaint = Complaint(
        source=source,
        text=text.strip(),
        received_at=received_at,
        visit=visit,
        customer=visit.account.customer if visit is not None else None,
        branch=visit.branch if visit is not None else None,
        agent=agent,
        contact_name=contact_name,
        contact_phone=contact_phone,
        registered_by=by,
    )
    _decision_due_set(complaint)
    with transaction.atomic():
        complaint.save()
        audit(
            AuditAction.COMPLAINT_REGISTER,
            actor=by,
            obj=complaint,
            after={
                "source": source,
                "visit": visit.pk if visit is not None else None,
                "agent": agent.pk if agent is not None else None,
                "decision_due_at": complaint.decision_due_at,
            },
            request=request,
        )
        if is_complex and by is not None:
            _change_request_create(
                complaint,
                kind=ComplaintChangeKind.COMPLEX,
                days=0,
                reason=_("登记时认为案情复杂"),
                by=by,
                request=request,
            )
    return complaint


def _open_for_update(complaint: Complaint) -> Complaint:
    locked = Complaint.objects.select_for_update().get(pk=complaint.pk)
    if locked.status == ComplaintStatus.ANSWERED:
        raise ValidationError(_("投诉已答复，不能再修改。"))
    return locked


def complaint_link(*, complaint: Complaint, visit=None, agent=None, by, request=None) -> Complaint:
    """Links an (online) complaint to the visit and agent found by the supervisor."""
    with transaction.atomic():
        locked = _open_for_update(complaint)
        if visit is not None:
            locked.visit = visit
            locked.customer = visit.account.customer
            locked.branch = visit.branch
            agent = agent or _visit_agent(visit)
        if agent is not None:
            locked.agent = agent
        if locked.investigator_id and locked.investigator_id in complaint_involved_ids(locked):
            raise ValidationError({"investigator": _("调查人与该投诉有关，请先改派调查人。")})
        locked.save(update_fields=["visit", "customer", "branch", "agent"])
        audit(
            AuditAction.COMPLAINT_LINK,
            actor=by,
            obj=locked,
            after={"visit": locked.visit_id, "agent": locked.agent_id},
            request=request,
        )
    return locked


def complaint_assign(*, complaint: Complaint, investigator, by, request=None) -> Complaint:
    """Names the investigator: a supervisor not involved in the complaint."""
    if not has_role(investigator, Role.SUPERVISOR):
        raise ValidationError({"investigator": _("调查人须为监督管理人员。")})
    with transaction.atomic():
        locked = _open_for_update(complaint)
        if investigator.pk in complaint_involved_ids(locked):
            raise ValidationError({"investigator": _("调查人不能是被投诉人员、经办人员或登记人。")})
        before = locked.investigator_id
        locked.investigator = investigator
        locked.status = ComplaintStatus.INVESTIGATING
        locked.save(update_fields=["investigator", "status"])
        audit(
            AuditAction.COMPLAINT_ASSIGN,
            actor=by,
            obj=locked,
            before={"investigator": before},
            after={"investigator": investigator.pk},
            request=request,
        )
    return locked


def _may_decide_reason(change: ComplaintChangeRequest, complaint: Complaint, user) -> str:
    """Why ``user`` may not decide ``change``, or "" when they may."""
    if not has_role(user, Role.SUPERVISOR):
        return _("只有监督管理人员可以审批。")
    if user.pk == change.requested_by_id:
        return _("申请须由另一位监督管理人员审批，申请人不能审批自己的申请。")
    if user.pk in complaint_involved_ids(complaint):
        return _("与投诉有关的人员（被投诉人员、经办人员、登记人）不能审批。")
    return ""


def complaint_may_decide(*, change: ComplaintChangeRequest, user) -> bool:
    """Whether the page offers ``user`` the approval of ``change``."""
    return change.decided_at is None and not _may_decide_reason(change, change.complaint, user)


def _change_request_create(
    locked: Complaint, *, kind: str, days: int, reason: str, by, request=None
) -> ComplaintChangeRequest:
    if ComplaintChangeRequest.objects.filter(
        complaint=locked, kind=kind, decided_at__isnull=True
    ).exists():
        raise ValidationError(_("已有一份同类申请在等待审批。"), code="pending")
    change = ComplaintChangeRequest.objects.create(
        complaint=locked, kind=kind, days=days, reason=reason, requested_by=by
    )
    audit(
        AuditAction.COMPLAINT_CHANGE_REQUEST,
        actor=by,
        obj=locked,
        after={"change": change.pk, "kind": kind, "days": days},
        request=request,
    )
    deciders = [
        user
        for user in complaint_supervisors(locked)
        if user.pk != by.pk and user.pk not in complaint_involved_ids(locked)
    ]
    send_mails(
        notify(
            deciders,
            message=_("投诉 #%(pk)s：%(kind)s申请待您审批")
            % {"pk": locked.pk, "kind": change.get_kind_display()},
            link=reverse("supervision:complaint", args=[locked.pk]),
            key=change_request_key(change),
        )
    )
    return change


def complaint_change_request(
    *, complaint: Complaint, kind: str, by, days: int = 0, reason: str = "", request=None
) -> ComplaintChangeRequest:
    """Asks for the complaint to be marked complex (30 days instead of 15) or, once it is
    complex, for its clock to be extended, once, by 1 to 30 days. Nothing changes until another
    supervisor approves (``complaint_change_decide``): a simple complaint can never reach 45
    days."""
    reason = (reason or "").strip()
    errors = {}
    if kind not in ComplaintChangeKind.values:
        errors["kind"] = _("未知的申请事项。")
    if kind == ComplaintChangeKind.EXTENSION:
        if not 1 <= int(days) <= MAX_EXTENSION_DAYS:
            errors["extension_days"] = _("延长天数须在 1 到 30 天之间。")
        if not reason:
            errors["extension_reason"] = _("请填写延长理由。")
    else:
        days = 0
    if errors:
        raise ValidationError(errors)
    if not has_role(by, Role.SUPERVISOR):
        raise ValidationError(_("只有监督管理人员可以提出申请。"), code="role")
    with transaction.atomic():
        locked = _open_for_update(complaint)
        if kind == ComplaintChangeKind.COMPLEX and locked.is_complex:
            raise ValidationError(_("该投诉已认定为复杂案件。"), code="already")
        if kind == ComplaintChangeKind.EXTENSION:
            if not locked.is_complex:
                raise ValidationError(
                    {"extension_days": _("简单投诉不能延长答复期限（须先经批准认定为复杂案件）。")}
                )
            if locked.extension_days:
                raise ValidationError({"extension_days": _("答复期限已延长过一次。")})
        return _change_request_create(
            locked, kind=kind, days=int(days), reason=reason, by=by, request=request
        )


def complaint_change_decide(
    *, change: ComplaintChangeRequest, approve: bool, by, request=None
) -> ComplaintChangeRequest:
    """Another supervisor approves or rejects a request; an approval changes the clock."""
    with transaction.atomic():
        change = ComplaintChangeRequest.objects.select_for_update().get(pk=change.pk)
        if change.decided_at is not None:
            raise ValidationError(_("该申请已审批。"), code="decided")
        locked = _open_for_update(change.complaint)
        if reason := _may_decide_reason(change, locked, by):
            raise ValidationError(reason, code="same_person")
        action = AuditAction.COMPLAINT_CHANGE_REJECT
        if approve:
            if change.kind == ComplaintChangeKind.COMPLEX:
                locked.is_complex = True
                fields = ["is_complex"]
                action = AuditAction.COMPLAINT_CLASSIFY
            else:
                if not locked.is_complex or locked.extension_days:
                    raise ValidationError(_("该投诉已不能延长答复期限。"), code="not_extendable")
                locked.extension_days = change.days
                locked.extension_reason = change.reason
                locked.extension_approved_by = by
                fields = ["extension_days", "extension_reason", "extension_approved_by"]
                action = AuditAction.COMPLAINT_EXTEND
            locked.save(update_fields=[*fields, *_decision_due_set(locked)])
        change.decided_by = by
        change.decided_at = timezone.now()
        change.approved = bool(approve)
        change.save(update_fields=["decided_by", "decided_at", "approved"])
        # Decided: no supervisor is still asked to decide it.
        notifications_read_about(key=change_request_key(change))
        audit(
            action,
            actor=by,
            obj=locked,
            after={
                "change": change.pk,
                "kind": change.kind,
                "days": change.days,
                "requested_by": change.requested_by_id,
                "approved": change.approved,
                "decision_due_at": locked.decision_due_at,
            },
            request=request,
        )
    return change


def complaint_answer(
    *, complaint: Complaint, upheld: bool, answer: str, by, request=None
) -> Complaint:
    """The investigator's decision, answered to the customer. Upheld complaints count in the
    agent's monthly assessment (by the month of the answer)."""
    if not (answer or "").strip():
        raise ValidationError({"answer": _("请填写答复内容。")})
    with transaction.atomic():
        locked = _open_for_update(complaint)
        if locked.status != ComplaintStatus.INVESTIGATING or locked.investigator_id != by.pk:
            raise ValidationError(_("只有指定的调查人可以作出答复。"))
        locked.upheld = bool(upheld)
        locked.answer = answer.strip()
        answered_at = locked.answered_at = timezone.now()
        locked.status = ComplaintStatus.ANSWERED
        locked.save(update_fields=["upheld", "answer", "answered_at", "status"])
        # Answered: the overdue notices about it are settled for everyone they went to.
        notifications_read_about(key=overdue_key_prefix(locked))
        audit(
            AuditAction.COMPLAINT_ANSWER,
            actor=by,
            obj=locked,
            after={
                "upheld": locked.upheld,
                "late": locked.decision_due_at is not None and answered_at > locked.decision_due_at,
            },
            request=request,
        )
    return locked


def complaint_supervisors(complaint: Complaint) -> list:
    """The supervisors of the complaint's branch; every active supervisor while it is linked to
    no branch (an online complaint: all of them see it)."""
    if complaint.branch is not None:
        return list(staff_of_branch(complaint.branch, Role.SUPERVISOR))
    return list(get_user_model().objects.filter(is_active=True, profile__role=Role.SUPERVISOR))


def _overdue_filter(now: dt.datetime) -> Q:
    # Open past its decision date, and not yet noticed for *this* date (an extension moves it).
    return Q(
        status__in=[ComplaintStatus.REGISTERED, ComplaintStatus.INVESTIGATING],
        decision_due_at__lt=now,
    ) & (Q(overdue_notified_at__isnull=True) | Q(overdue_notified_at__lt=F("decision_due_at")))


def complaints_overdue_notify(*, now: dt.datetime | None = None, batch_size: int = 500) -> int:
    """The overdue-complaint alert (SPEC §8): each open complaint past its decision date is
    noticed once per missed date, in the app and by e-mail, to its investigator and the
    supervisors of its branch. Safe to run twice at once: rows are claimed with SKIP LOCKED
    and a conditional UPDATE, and each notification has a dedup key. Returns how many."""
    now = now or timezone.now()
    noticed = 0
    supervisors: dict[int | None, list] = {}
    while True:
        mails = []
        with transaction.atomic():
            ids = list(
                Complaint.objects.select_for_update(skip_locked=True)
                .filter(_overdue_filter(now))
                .order_by("decision_due_at", "pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            Complaint.objects.filter(pk__in=ids).filter(_overdue_filter(now)).update(
                overdue_notified_at=now
            )
            for complaint in Complaint.objects.filter(pk__in=ids).select_related(
                "investigator", "branch"
            ):
                if complaint.branch_id not in supervisors:
                    supervisors[complaint.branch_id] = complaint_supervisors(complaint)
                deadline = timezone.localtime(complaint.decision_due_at, business_tz())
                mails += notify(
                    [complaint.investigator, *supervisors[complaint.branch_id]],
                    message=_("投诉 #%(pk)s 已超过答复期限 %(deadline)s，尚未答复客户")
                    % {"pk": complaint.pk, "deadline": f"{deadline:%Y-%m-%d %H:%M}"},
                    link=reverse("supervision:complaint", args=[complaint.pk]),
                    key=f"{overdue_key_prefix(complaint)}{deadline:%Y%m%d%H%M%S}",
                )
                audit(
                    AuditAction.COMPLAINT_OVERDUE,
                    obj=complaint,
                    after={
                        "decision_due_at": complaint.decision_due_at,
                        "investigator": complaint.investigator_id,
                    },
                )
            noticed += len(ids)
        send_mails(mails)
    return noticed


def complaint_form_allowed(ip: str | None) -> bool:
    """CAPTCHA-free rate limit for the public form, on the shared cache: at most N per hour
    from one address and M per hour overall. Counts every attempt, allowed or not."""
    hour = timezone.now().strftime("%Y%m%d%H")
    for key, limit in (
        (f"complaint-form:ip:{ip or '-'}:{hour}", callback_int("COMPLAINT_FORM_PER_IP_HOUR")),
        (f"complaint-form:all:{hour}", callback_int("COMPLAINT_FORM_GLOBAL_HOUR")),
    ):
        cache.add(key, 0, timeout=3600)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=3600)
            count = 1
        if count > limit:
            return False
    return True
