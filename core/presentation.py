"""One place that turns stored values into the words staff read: choice codes into their labels,
booleans into 是/否, durations into "1 小时 23 分", people into their names. Pages (through the
``labels`` template filters), the audit-log viewer and the exports all use it, so no internal
code reaches a screen or a spreadsheet.

Models are looked up by their label ("visits.VisitRecord") in the app registry, so this bottom
layer knows every app's choices without importing them."""

import datetime as dt
from decimal import Decimal

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

_l = gettext_lazy

EMPTY = "-"

# Codes stored without a choices list on their field: one vocabulary each, used by the forms
# that offer them and by every page and export that shows them.
VOCABULARIES: dict[str, dict[str, str]] = {
    "contact_item": {
        "mobile": _l("手机号码"), "email": _l("电子邮箱"),
        "landline": _l("固定电话"), "address": _l("地址"),
    },
    "usage_channel": {
        "counter": _l("柜面"), "atm": _l("自助设备"), "online": _l("网上银行"),
        "mobile": _l("手机银行"), "pos": _l("POS"),
    },
    "event_channel": {
        "counter": _l("柜面"), "atm": _l("自助设备"), "online": _l("网上银行"),
        "mobile": _l("手机银行"), "pos": _l("POS"), "api": _l("接口"), "other": _l("其他"),
    },
    "direction": {"in": _l("转入"), "out": _l("转出")},
    "consent_source": {
        "sms": _l("短信回复"), "visit": _l("回访"), "counter": _l("柜面"), "api": _l("核心系统"),
        "questionnaire": _l("线上问卷"), "seed": _l("开户时登记"), "import": _l("开户时登记"),
    },
    "need": {"loan": _l("贷款"), "wealth": _l("理财"), "other": _l("其他")},
    "answer": {"yes": _l("是"), "no": _l("否")},
    "escalation_action": {
        "open": _l("转办"), "accept": _l("受理"), "resolve": _l("处理完毕"),
        "reply": _l("回复客户"), "close": _l("客户满意，关闭"), "reopen": _l("客户不满意，重开"),
        "transfer": _l("转交其他部门"), "extend": _l("延长时限"), "overdue": _l("超时"),
    },
}  # fmt: skip


def term(value, vocabulary: str) -> str:
    """The words for a code of one of the VOCABULARIES; the code itself only when unknown."""
    if value is None or value == "":
        return EMPTY
    return str(VOCABULARIES.get(vocabulary, {}).get(value, value))


def terms(values, vocabulary: str) -> str:
    return "、".join(term(v, vocabulary) for v in values or ()) or EMPTY


def vocabulary_choices(vocabulary: str) -> list[tuple[str, str]]:
    return list(VOCABULARIES[vocabulary].items())


def yes_no(value) -> str:
    if value is None or value == "":
        return EMPTY
    return _("是") if value else _("否")


def duration_text(value) -> str:
    """A timedelta (or seconds) as "2 天 3 小时", "1 小时 23 分", "23 分" or "45 秒"."""
    if value is None or value == "":
        return EMPTY
    seconds = int(value.total_seconds() if isinstance(value, dt.timedelta) else float(value))
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = (
            _("%(d)s 天 %(h)s 小时") % {"d": days, "h": hours}
            if hours
            else _("%(d)s 天") % {"d": days}
        )
    elif hours:
        text = _("%(h)s 小时 %(m)s 分") % {"h": hours, "m": minutes}
    elif minutes:
        text = _("%(m)s 分") % {"m": minutes}
    else:
        text = _("%(s)s 秒") % {"s": secs}
    return sign + text


def person_name(user) -> str:
    if user is None or user == "":
        return EMPTY
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()


def _field(model_label: str, name: str):
    try:
        return apps.get_model(model_label)._meta.get_field(name)
    except (LookupError, FieldDoesNotExist, ValueError):
        return None


def field_label(model_label: str, name: str) -> str:
    """A model field's verbose name; the name itself only for a field that does not exist."""
    field = _field(model_label, name)
    if field is None or not hasattr(field, "verbose_name"):
        return str(name)
    return str(field.verbose_name)


def choice_label(model_label: str, name: str, value) -> str:
    """The label of a stored choice code, e.g. ("visits.Visit", "status", "open") → 待处理."""
    if value is None or value == "":
        return EMPTY
    field = _field(model_label, name)
    choices = dict(field.flatchoices) if field is not None and field.choices else {}
    return str(choices.get(value, value))


def value_text(value) -> str:
    """Any stored value in words: booleans 是/否, dates and times local, lists joined."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, dt.datetime):
        return (
            timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
            if timezone.is_aware(value)
            else value.strftime("%Y-%m-%d %H:%M")
        )
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.timedelta):
        return duration_text(value)
    if isinstance(value, list | tuple):
        return "、".join(value_text(v) for v in value) or EMPTY
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def lookup_label(pairs, value) -> str:
    """The label of ``value`` in a list of (code, label) pairs; the value when unknown."""
    return str(dict(pairs).get(value, value)) if value not in (None, "") else EMPTY


# Keys of audit entries that are not fields of the object's own model.
_AUDIT_KEYS: dict[str, tuple[str, str]] = {
    "outcome": ("visits.ContactAttempt", "outcome"),
    "channel": ("visits.ContactAttempt", "channel"),
    "urgency": ("escalations.Escalation", "urgency"),
    "handling": ("visits.VisitRecord", "handling"),
}
_AUDIT_WORDS = {
    "reason": _l("原因"), "amendment": _l("更正编号"), "fields": _l("字段"),
    "count": _l("数量"), "note": _l("说明"), "role": _l("角色"), "username": _l("用户名"),
}  # fmt: skip


def _audit_model(object_type: str):
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def audit_object_name(object_type: str) -> str:
    model = _audit_model(object_type) if object_type else None
    return str(model._meta.verbose_name) if model is not None else object_type


def audit_sentence(entry, action_label: str) -> str:
    """ "张伟 领取回访 回访 #12" from an audit entry and its action's label."""
    who = person_name(entry.actor) if entry.actor_id and entry.actor else ""
    who = who or entry.actor_label or entry.client_name or _("系统")
    what = audit_object_name(entry.object_type)
    target = f" {what} #{entry.object_id}" if entry.object_id else (f" {what}" if what else "")
    return f"{who} {action_label}{target}"


def _audit_value(model_label: str | None, key: str, value) -> str:
    if isinstance(value, dict):
        return "；".join(f"{_audit_key(model_label, k)}：{_audit_value(model_label, k, v)}"
                        for k, v in value.items()) or EMPTY  # fmt: skip
    if isinstance(value, list):
        return "、".join(_audit_value(model_label, key, v) for v in value) or EMPTY
    if isinstance(value, bool) or value is None or value == "":
        return yes_no(value) if isinstance(value, bool) else EMPTY
    target = _AUDIT_KEYS.get(key)
    field = _field(model_label, key) if model_label else None
    if field is not None and field.choices:
        return choice_label(model_label, key, value)
    if field is None and target is not None:
        return choice_label(target[0], target[1], value)
    if field is not None and field.is_relation and str(value).isdigit():
        return f"#{value}"
    return str(value)


def _audit_key(model_label: str | None, key: str) -> str:
    field = _field(model_label, key) if model_label else None
    if field is not None and hasattr(field, "verbose_name"):
        return str(field.verbose_name)
    if key in _AUDIT_KEYS:
        return field_label(*_AUDIT_KEYS[key])
    return str(_AUDIT_WORDS.get(key, key))


def audit_diff(entry) -> list[tuple[str, str, str]]:
    """(field label, before, after) in words, one row per key changed or recorded."""
    model = _audit_model(entry.object_type) if entry.object_type else None
    label = model._meta.label if model is not None else None
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    rows = []
    for key in [*before, *[k for k in after if k not in before]]:
        rows.append(
            (
                _audit_key(label, key),
                _audit_value(label, key, before[key]) if key in before else EMPTY,
                _audit_value(label, key, after[key]) if key in after else EMPTY,
            )
        )
    return rows
