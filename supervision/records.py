"""Corrections of submitted visit records: amendments with a reason; the original stays."""

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from core.audit import audit
from core.audit_actions import AuditAction
from visits.models import RecordAmendment, VisitRecord
from visits.presentation import NOT_SHOWN_AS_FIELDS as _NOT_AMENDABLE


def amendable_fields() -> list[models.Field]:
    return [
        field
        for field in VisitRecord._meta.concrete_fields
        if field.name not in _NOT_AMENDABLE
        and not field.is_relation
        and not isinstance(field, models.JSONField)
    ]


def effective_value(record: VisitRecord, field_name: str) -> str:
    """The value after the latest amendment of this field, or the original."""
    latest = record.amendments.filter(field=field_name).order_by("-amended_at", "-pk").first()
    if latest is not None:
        return latest.new_value
    value = getattr(record, field_name)
    return "" if value is None else str(value)


@transaction.atomic
def record_amend(
    *, record: VisitRecord, by, field: str, new_value: str, reason: str
) -> RecordAmendment:
    fields = {f.name: f for f in amendable_fields()}
    if field not in fields:
        raise ValidationError({"field": _("该字段不能更正。")})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写更正原因。")})
    model_field = fields[field]
    try:
        cleaned = model_field.clean(model_field.to_python(new_value), record)
    except ValidationError as exc:
        raise ValidationError({"new_value": exc.messages}) from exc
    new_text = "" if cleaned is None else str(cleaned)
    # Lock the record row's amendments so two corrections of one field queue up.
    VisitRecord.objects.select_for_update().filter(pk=record.pk).values_list("pk").first()
    old_text = effective_value(record, field)
    if new_text == old_text:
        raise ValidationError({"new_value": _("新值与当前值相同。")})
    amendment = RecordAmendment.objects.create(
        record=record,
        field=field,
        old_value=old_text,
        new_value=new_text,
        reason=reason[:300],
        amended_by=by,
    )
    audit(
        AuditAction.RECORD_AMEND,
        actor=by,
        obj=record,
        before={field: old_text},
        after={field: new_text, "reason": reason[:300], "amendment": amendment.pk},
    )
    return amendment
