"""The project's admin pages speak the user's language: every column, filter, field, model
and action label of every ModelAdmin (and inline) in the project's */admin.py is a Chinese
source string through gettext_lazy."""

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import label_for_field
from django.utils import translation
from django.utils.functional import Promise

PROJECT_APPS = {"accounts", "core", "escalations", "supervision", "visits", "workspace"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _fields(model):
    return [f.name for f in model._meta.get_fields() if f.concrete and not f.auto_created]


def admin_labels():
    """(where, label) for everything the project's admin pages show as a label."""
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        if meta.app_label not in PROJECT_APPS:
            continue
        yield f"app {meta.app_label}", apps.get_app_config(meta.app_label).verbose_name
        yield f"{meta.label} verbose_name", meta.verbose_name
        yield f"{meta.label} verbose_name_plural", meta.verbose_name_plural
        filters = [f for f in model_admin.list_filter if isinstance(f, str)]
        names = [
            *model_admin.list_display,
            *filters,
            *model_admin.readonly_fields,
            *model_admin.raw_id_fields,
            *model_admin.autocomplete_fields,
            *_fields(model),
        ]
        for name in dict.fromkeys(n for n in names if isinstance(n, str)):
            if name in ("id", "__str__"):
                continue  # Django's own "ID" and the object's name
            yield f"{meta.label}.{name}", label_for_field(name, model, model_admin)
        for inline in model_admin.inlines:
            inline_meta = inline.model._meta
            yield f"{inline_meta.label} verbose_name", inline_meta.verbose_name
            yield f"{inline_meta.label} verbose_name_plural", inline_meta.verbose_name_plural
            for name in _fields(inline.model):
                field = inline_meta.get_field(name)
                yield f"{inline_meta.label}.{name}", field.verbose_name
        for action in model_admin.actions or ():
            function = getattr(model_admin, action) if isinstance(action, str) else action
            yield f"{meta.label} action {action}", function.short_description


LABELS = list(admin_labels())


def test_the_project_registers_admin_pages():
    assert len({where.split(".")[0] for where, _ in LABELS}) >= 6
    assert any(where == "accounts.Customer.masked_mobile" for where, _ in LABELS)


@pytest.mark.parametrize(("where", "label"), LABELS, ids=[where for where, _ in LABELS])
def test_every_admin_label_is_a_translatable_chinese_string(where, label):
    assert isinstance(label, Promise), f"{where}: not through gettext_lazy: {label!r}"
    with translation.override("zh-hans"):
        assert CJK.search(str(label)), f"{where}: no Chinese source string: {label}"


@pytest.mark.parametrize(("where", "label"), LABELS, ids=[where for where, _ in LABELS])
def test_every_admin_label_reads_in_english(where, label):
    with translation.override("en"):
        assert not CJK.search(str(label)), f"{where}: no English translation: {label}"
