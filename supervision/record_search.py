"""Finding submitted visit records: supervisors search their branches, agents their own."""

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch, Role
from accounts.permissions import branch_ids_visible_to, has_role
from core.crypto import blind_index
from core.forms import PersonChoiceField
from escalations.models import Escalation
from supervision.periods import day_bounds
from visits.access import records_visible_to
from visits.models import Handling, VisitKind, VisitRecord

# Encrypted columns a result list never shows (it shows the stored masked number).
LIST_DEFERRED = (
    "number",
    "customer__id_number",
    "customer__mobile",
    "customer__landline",
    "customer__address",
)
YES_NO_ANY = [("", _("全部")), ("yes", _("是")), ("no", _("否"))]


def records_searchable_by(user) -> QuerySet[VisitRecord]:
    """Supervisors: every record of their branches; agents: the records they submitted."""
    records = records_visible_to(user)
    if not has_role(user, Role.SUPERVISOR):
        records = records.filter(submitted_by=user)
    return records


class RecordSearchForm(forms.Form):
    since = forms.DateField(
        label=_("提交日期从"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("至"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    branch = forms.ModelChoiceField(label=_("网点"), required=False, queryset=Branch.objects.none())
    agent = PersonChoiceField(
        label=_("回访人员"), required=False, queryset=get_user_model().objects.none()
    )
    kind = forms.ChoiceField(
        label=_("回访类型"), required=False, choices=[("", _("全部"))] + VisitKind.choices
    )
    handling = forms.ChoiceField(
        label=_("处理结果"), required=False, choices=[("", _("全部"))] + Handling.choices
    )
    satisfaction = forms.TypedChoiceField(
        label=_("满意度"), required=False, coerce=int, empty_value=None,
        choices=[("", _("全部"))] + [(str(i), str(i)) for i in range(1, 6)],
    )  # fmt: skip
    escalated = forms.ChoiceField(label=_("是否转办"), required=False, choices=YES_NO_ANY)
    account_number = forms.CharField(label=_("账号（完整）"), required=False, max_length=32)
    customer_name = forms.CharField(label=_("客户姓名"), required=False, max_length=100)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.is_supervisor = has_role(user, Role.SUPERVISOR)
        branch_ids = branch_ids_visible_to(user)
        self.fields["branch"].queryset = Branch.objects.filter(pk__in=branch_ids).order_by("code")
        if self.is_supervisor:
            agents = (
                get_user_model()
                .objects.filter(profile__role=Role.AGENT, records__visit__branch__in=branch_ids)
                .distinct()
                .order_by("first_name", "username")
            )
            self.fields["agent"].queryset = agents
        else:
            del self.fields["agent"]  # an agent finds only their own records

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", _("结束日期不能早于开始日期。"))
        number = (data.get("account_number") or "").replace(" ", "")
        data["account_number"] = number
        return data


def record_search(user, data: dict) -> QuerySet[VisitRecord]:
    records = records_searchable_by(user)
    if data.get("since") or data.get("until"):
        start, end = day_bounds(
            data.get("since") or dt.date(1970, 1, 1), data.get("until") or dt.date(9999, 12, 30)
        )
        records = records.filter(submitted_at__gte=start, submitted_at__lt=end)
    if data.get("branch"):
        records = records.filter(visit__branch=data["branch"])
    if data.get("agent"):
        records = records.filter(submitted_by=data["agent"])
    if data.get("kind"):
        records = records.filter(visit__kind=data["kind"])
    if data.get("handling"):
        records = records.filter(handling=data["handling"])
    if data.get("satisfaction") is not None:
        records = records.filter(satisfaction=data["satisfaction"])
    if data.get("escalated"):
        escalated = Exists(Escalation.objects.filter(visit_id=OuterRef("visit_id")))
        records = records.filter(escalated if data["escalated"] == "yes" else ~escalated)
    if data.get("account_number"):
        # Exact only, through the blind index (the number is encrypted): no partial matching.
        records = records.filter(visit__account__number_index=blind_index(data["account_number"]))
    if data.get("customer_name"):
        records = records.filter(visit__account__customer__name__contains=data["customer_name"])
    escalated = Exists(Escalation.objects.filter(visit_id=OuterRef("visit_id")))
    return (
        records.annotate(is_escalated=escalated)
        .select_related("submitted_by", "visit__branch", "visit__account__customer")
        .defer(*(f"visit__account__{name}" for name in LIST_DEFERRED))
        .order_by("-submitted_at", "-pk")
    )
