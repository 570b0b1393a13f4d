"""Template filters of the presentation layer (core/presentation.py)."""

from django import template

from core import presentation

register = template.Library()


@register.filter
def yesno_zh(value):
    return presentation.yes_no(value)


@register.filter
def duration(value):
    return presentation.duration_text(value)


@register.filter
def person(user):
    return presentation.person_name(user)


@register.filter
def choice(value, model_field: str):
    """``{{ step.to_status|choice:"escalations.Escalation.status" }}``"""
    model_label, _, name = model_field.rpartition(".")
    return presentation.choice_label(model_label, name, value)


@register.filter
def field_label(name, model_label: str):
    return presentation.field_label(model_label, name)


@register.filter
def words(value):
    return presentation.value_text(value)


@register.filter
def lookup(value, pairs):
    return presentation.lookup_label(pairs, value)


@register.filter
def term(value, vocabulary: str):
    """``{{ event.direction|term:"direction" }}``"""
    return presentation.term(value, vocabulary)


@register.filter
def terms(values, vocabulary: str):
    return presentation.terms(values, vocabulary)
