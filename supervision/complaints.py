"""Complaints about callback work, on the regulator's clock."""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from accounts.permissions import has_role
from core.audit import audit
from core.audit_actions import AuditAction
from core.calendar import BusinessCalendar, Due, DueUnit, due
from core.calendar_plans import register_recompute
from core.config import callback_int
from supervision.models import (
    Complaint,
    ComplaintStatus,
)
from visits.models import VisitRecord

# --- Complaints about the callback work --------------------------------------------------------

DECISION_DAYS = 15
COMPLEX_DECISION_DAYS = 30
MAX_EXTENSION_DAYS = 30


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
    by=None). Linked to the visit, its customer, branch and agent when known."""
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
        is_complex=is_complex,
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


def complaint_classify(*, complaint: Complaint, is_complex: bool, by, request=None) -> Complaint:
    """Marks a complaint complex (30 days) or not (15 days); the clock follows."""
    with transaction.atomic():
        locked = _open_for_update(complaint)
        locked.is_complex = is_complex
        locked.save(update_fields=["is_complex", *_decision_due_set(locked)])
        audit(
            AuditAction.COMPLAINT_CLASSIFY,
            actor=by,
            obj=locked,
            after={"is_complex": is_complex, "decision_due_at": locked.decision_due_at},
            request=request,
        )
    return locked


def complaint_extend(
    *, complaint: Complaint, days: int, reason: str, by, request=None
) -> Complaint:
    """Extends the clock once, by at most 30 days, with the approver and reason recorded."""
    errors = {}
    if not 1 <= int(days) <= MAX_EXTENSION_DAYS:
        errors["extension_days"] = _("延长天数须在 1 到 30 天之间。")
    if not (reason or "").strip():
        errors["extension_reason"] = _("请填写延长理由。")
    if not has_role(by, Role.SUPERVISOR):
        errors["extension_approved_by"] = _("延长须由监督管理人员批准。")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = _open_for_update(complaint)
        if locked.extension_days:
            raise ValidationError({"extension_days": _("答复期限已延长过一次。")})
        if by.pk in complaint_involved_ids(locked):
            raise ValidationError({"extension_approved_by": _("与投诉有关的人员不能批准延长。")})
        locked.extension_days = int(days)
        locked.extension_reason = reason.strip()
        locked.extension_approved_by = by
        locked.save(
            update_fields=[
                "extension_days",
                "extension_reason",
                "extension_approved_by",
                *_decision_due_set(locked),
            ]
        )
        audit(
            AuditAction.COMPLAINT_EXTEND,
            actor=by,
            obj=locked,
            after={"days": int(days), "decision_due_at": locked.decision_due_at},
            request=request,
        )
    return locked


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
