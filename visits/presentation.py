"""A submitted visit record in words: every field with its label and its value as the record
form offered it (labels of choices, 是/否, dates), for the record page, the handler's view of
an escalation's source visit and the amendment history."""

from django.db import models

from core import presentation
from visits.models import VisitRecord

# Shown in the record's heading rather than among its fields (and never amended).
NOT_SHOWN_AS_FIELDS = {"id", "visit", "channel", "submitted_at", "submitted_by"}


# JSON fields of the record and the vocabulary their codes are in.
_JSON_VOCABULARIES = {"usage_channels": "usage_channel", "needs": "need"}


def stored_text_words(field_name: str, text: str) -> str:
    """A value as stored in an amendment (text) in the words of the record form."""
    field = VisitRecord._meta.get_field(field_name)
    if text in ("", "None"):
        return presentation.EMPTY
    if isinstance(field, models.BooleanField):
        return presentation.yes_no(text == "True")
    if field.choices:
        return presentation.choice_label("visits.VisitRecord", field_name, text)
    return text


def record_rows(record: VisitRecord) -> list[tuple[str, str, str]]:
    """(label, field name, value in words) of every field of the record."""
    rows = []
    for field in VisitRecord._meta.concrete_fields:
        if field.name in NOT_SHOWN_AS_FIELDS or field.is_relation:
            continue
        value = getattr(record, field.name)
        if field.name == "reported_changes":
            words = (
                "；".join(
                    f"{presentation.term(k, 'contact_item')}：{v or presentation.EMPTY}"
                    for k, v in (value or {}).items()
                )
                or presentation.EMPTY
            )
        elif field.name in _JSON_VOCABULARIES:
            words = presentation.terms(value, _JSON_VOCABULARIES[field.name])
        elif isinstance(field, models.JSONField):
            words = (
                "；".join(
                    f"{k}：{presentation.term(v, 'answer')}" for k, v in (value or {}).items()
                )
                if isinstance(value, dict)
                else presentation.value_text(value)
            )
        elif field.choices:
            words = presentation.choice_label("visits.VisitRecord", field.name, value)
        else:
            words = presentation.value_text(value)
        rows.append((str(field.verbose_name), field.name, words or presentation.EMPTY))
    return rows
