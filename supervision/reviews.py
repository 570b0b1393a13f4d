"""Reviews of sampled records against the checklist, and the corrective actions they raise."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit
from core.audit_actions import AuditAction
from core.config import callback_int
from supervision.models import (
    AuditReview,
    AuditSample,
    AuditSampleItem,
    CheckResult,
    CorrectiveAction,
    SampleStatus,
)
from visits.models import Handling

# --- Review ----------------------------------------------------------------------------------

CHECKLIST = (
    "record_complete",
    "identity_stated",
    "script_followed",
    "reminders_given",
    "handled_in_time",
    "escalation_justified",
)
# Each item's third answer beside yes and no: whether the item may not apply to the record
# (no problem to handle) or the reviewer could not assess it.
THIRD_ANSWER = {
    "record_complete": CheckResult.NOT_ASSESSED,
    "identity_stated": CheckResult.NOT_ASSESSED,
    "script_followed": CheckResult.NOT_ASSESSED,
    "reminders_given": CheckResult.NOT_ASSESSED,
    "handled_in_time": CheckResult.NOT_APPLICABLE,
    "escalation_justified": CheckResult.NOT_ASSESSED,
}
# Asked only about a record that raised an escalation; otherwise recorded as not applicable.
ESCALATION_ITEM = "escalation_justified"


def record_escalated(record) -> bool:
    return record.handling == Handling.ESCALATED or record.escalations.exists()


def checklist_items(record) -> tuple[str, ...]:
    """The items asked about this record."""
    if record_escalated(record):
        return CHECKLIST
    return tuple(name for name in CHECKLIST if name != ESCALATION_ITEM)


def answers_for(name: str) -> tuple[CheckResult, ...]:
    return (CheckResult.YES, CheckResult.NO, THIRD_ANSWER[name])


def review_checks(review: AuditReview) -> list[tuple[str, str]]:
    """The finished checklist as (item, answer) labels."""
    checks = []
    for name in CHECKLIST:
        field = AuditReview._meta.get_field(name)
        label = getattr(field, "verbose_name", name)
        checks.append((str(label), str(CheckResult(getattr(review, name)).label)))
    return checks


def _checked(record, checklist: dict) -> dict[str, str]:
    """Every item's stored answer: each asked item must have one of its answers; the skipped
    escalation item is not applicable."""
    asked = checklist_items(record)
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in CHECKLIST:
        if name not in asked:
            values[name] = CheckResult.NOT_APPLICABLE
            continue
        value = checklist.get(name)
        if value not in answers_for(name):
            errors[name] = _("请选择一项。")
            continue
        values[name] = str(value)
    if errors:
        raise ReviewRefused(errors)
    return values


class ReviewRefused(ValidationError):
    pass


def review_submit(
    *,
    item: AuditSampleItem,
    reviewer,
    checklist: dict,
    score: int,
    findings: str = "",
    action_due_on: dt.date | None = None,
    request=None,
) -> AuditReview:
    """Reviews one sampled record; final once saved. A finding becomes a corrective action
    for the record's agent, due in CALLBACK["CORRECTIVE_ACTION_DAYS"] days unless given."""
    if not (0 <= int(score) <= 100):
        raise ReviewRefused({"score": _("评分须在 0 到 100 之间。")})
    if reviewer.pk in (item.agent_id, item.record.submitted_by_id):
        raise ReviewRefused(_("不能评审本人的回访记录。"))
    answers = _checked(item.record, checklist)
    findings = (findings or "").strip()
    today = timezone.localdate()
    due_on = action_due_on or today + dt.timedelta(days=callback_int("CORRECTIVE_ACTION_DAYS"))
    if findings and due_on < today:
        raise ReviewRefused({"action_due_on": _("整改期限不能早于今天。")})
    with transaction.atomic():
        sample = AuditSample.objects.select_for_update().get(pk=item.sample_id)
        if sample.status != SampleStatus.OPEN:
            raise ReviewRefused(_("该样本不在评审中。"))
        if AuditReview.objects.filter(item=item).exists():
            raise ReviewRefused(_("该记录已评审完成，不能修改。"))
        review = AuditReview.objects.create(
            item=item,
            reviewer=reviewer,
            score=int(score),
            findings=findings,
            finished_at=timezone.now(),
            **answers,
        )
        action = None
        if findings and item.agent_id:
            action = CorrectiveAction.objects.create(
                review=review, agent_id=item.agent_id, description=findings, due_on=due_on
            )
        if not sample.items.filter(review__isnull=True).exists():
            AuditSample.objects.filter(pk=sample.pk, status=SampleStatus.OPEN).update(
                status=SampleStatus.FINISHED
            )
        audit(
            AuditAction.REVIEW_SUBMIT,
            actor=reviewer,
            obj=review,
            after={
                "record": item.record_id,
                "score": review.score,
                **{name: getattr(review, name) for name in CHECKLIST},
                "corrective_action": action.pk if action else None,
            },
            request=request,
        )
    return review


def corrective_action_acknowledge(*, action: CorrectiveAction, by, request=None) -> bool:
    """The agent confirms a corrective action once; False when it was already confirmed."""
    if action.agent_id != by.pk:
        raise ValidationError(_("只能确认本人的整改事项。"))
    now = timezone.now()
    updated = CorrectiveAction.objects.filter(
        pk=action.pk, agent=by, acknowledged_at__isnull=True
    ).update(acknowledged_at=now)
    if updated:
        action.acknowledged_at = now
        audit(AuditAction.CORRECTIVE_ACTION_ACKNOWLEDGE, actor=by, obj=action, request=request)
    return bool(updated)
