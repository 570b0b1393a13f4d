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
