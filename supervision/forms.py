from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Role
from accounts.permissions import branches_visible_to
from core.forms import PersonChoiceField, PersonMultipleChoiceField
from supervision.models import AuditReview, ComplaintSource, TrainingCourse
from supervision.periods import last_month
from supervision.reviews import CHECKLIST, answers_for, checklist_items
from visits.access import visits_visible_to
from visits.models import Channel, VisitKind


def agents_in(user):
    """Active agents to pick from. Staff names are not customer data; what matters is
    scoped where it is used (the sampler draws only from records_visible_to(user))."""
    return (
        get_user_model()
        .objects.filter(is_active=True, profile__role=Role.AGENT)
        .order_by("username")
    )


class DateInput(forms.DateInput):
    """An HTML date input: the browser needs ISO dates, whatever the active locale."""

    input_type = "date"

    def __init__(self, attrs=None, format="%Y-%m-%d"):  # noqa: A002 - Django's argument name
        super().__init__(attrs=attrs, format=format)


class SampleDrawForm(forms.Form):
    period_start = forms.DateField(label=_("期间开始"), widget=DateInput)
    period_end = forms.DateField(label=_("期间结束"), widget=DateInput)
    rate_percent = forms.DecimalField(
        label=_("抽样比例（%）"),
        required=False,
        min_value=0.01,
        max_value=100,
        decimal_places=2,
        help_text=_("与样本量二选一；默认 5%。"),
    )
    size = forms.IntegerField(label=_("样本量"), required=False, min_value=1)
    seed = forms.IntegerField(
        label=_("随机种子"),
        required=False,
        min_value=0,
        max_value=2**62,
        help_text=_("留空则随机生成；填写已保存的种子可重现同一样本。"),
    )
    branches = forms.ModelMultipleChoiceField(
        label=_("网点"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    agents = PersonMultipleChoiceField(label=_("回访人员"), queryset=None, required=False)
    kinds = forms.MultipleChoiceField(
        label=_("回访类型"),
        choices=VisitKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    channels = forms.MultipleChoiceField(
        label=_("渠道"),
        choices=Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, user, **kwargs):
        start, end = last_month()
        kwargs.setdefault("initial", {"period_start": start, "period_end": end})
        super().__init__(*args, **kwargs)
        self.fields["branches"].queryset = branches_visible_to(user).order_by("code")
        self.fields["agents"].queryset = agents_in(user).exclude(pk=user.pk)

    def clean(self):
        data = super().clean()
        if data.get("rate_percent") is not None and data.get("size") is not None:
            self.add_error("size", _("比例与样本量只能填写一项。"))
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end < start:
            self.add_error("period_end", _("结束日期不能早于开始日期。"))
        return data

    def scope(self) -> dict:
        data = self.cleaned_data
        return {
            "branches": [b.pk for b in data.get("branches") or []],
            "agents": [a.pk for a in data.get("agents") or []],
            "kinds": data.get("kinds") or [],
            "channels": data.get("channels") or [],
        }


class ReviewForm(forms.Form):
    """The checklist asks each item of the record as yes / no / its third answer (not
    applicable or not assessed); the escalation item only when the record raised one."""

    score = forms.IntegerField(label=_("评分"), min_value=0, max_value=100)
    findings = forms.CharField(
        label=_("发现问题"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("填写后将为回访人员生成整改事项。"),
    )
    action_due_on = forms.DateField(label=_("整改期限"), required=False, widget=DateInput)

    def __init__(self, *args, record, **kwargs):
        super().__init__(*args, **kwargs)
        checks = {
            name: forms.ChoiceField(
                label=AuditReview._meta.get_field(name).verbose_name,
                choices=[(answer.value, answer.label) for answer in answers_for(name)],
                widget=forms.RadioSelect,
            )
            for name in checklist_items(record)
        }
        # The checklist first, then score, findings and the corrective action's due date.
        self.fields = {**checks, **self.fields}

    def clean_action_due_on(self):
        due = self.cleaned_data.get("action_due_on")
        if due and due < timezone.localdate():
            raise forms.ValidationError(_("整改期限不能早于今天。"))
        return due

    def checklist(self) -> dict:
        return {name: self.cleaned_data[name] for name in CHECKLIST if name in self.cleaned_data}


class StaffComplaintForm(forms.Form):
    source = forms.ChoiceField(
        label=_("来源"),
        choices=[
            (ComplaintSource.HOTLINE, ComplaintSource.HOTLINE.label),
            (ComplaintSource.SUGGESTION_BOX, ComplaintSource.SUGGESTION_BOX.label),
        ],
    )
    received_at = forms.DateTimeField(
        label=_("收到时间"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("留空为现在。"),
    )
    visit = forms.IntegerField(label=_("回访编号"), required=False, min_value=1)
    agent = PersonChoiceField(label=_("被投诉人员"), queryset=None, required=False)
    contact_name = forms.CharField(label=_("联系人"), max_length=100, required=False)
    contact_phone = forms.CharField(label=_("联系电话"), max_length=30, required=False)
    is_complex = forms.BooleanField(
        label=_("申请认定为复杂案件"),
        required=False,
        help_text=_("须由另一位监督管理人员批准；批准前按 15 天答复期限计算。"),
    )
    text = forms.CharField(label=_("投诉内容"), widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["agent"].queryset = agents_in(user)

    def clean_visit(self):
        pk = self.cleaned_data.get("visit")
        if pk is None:
            return None
        visit = visits_visible_to(self.user).select_related("account__customer", "branch")
        visit = visit.filter(pk=pk).first()
        if visit is None:
            raise forms.ValidationError(_("找不到该回访。"))
        return visit

    def clean_received_at(self):
        received = self.cleaned_data.get("received_at")
        if received and received > timezone.now():
            raise forms.ValidationError(_("收到时间不能晚于现在。"))
        return received


class PublicComplaintForm(forms.Form):
    contact_name = forms.CharField(label=_("您的姓名"), max_length=100)
    contact_phone = forms.RegexField(
        label=_("联系电话"),
        regex=r"^[0-9+\- ]{7,20}$",
        max_length=20,
        error_messages={"invalid": _("请填写有效的电话号码。")},
    )
    text = forms.CharField(
        label=_("投诉内容"), max_length=4000, widget=forms.Textarea(attrs={"rows": 6})
    )
    # A field people never see; bots that fill every input are refused without a CAPTCHA.
    website = forms.CharField(required=False, widget=forms.HiddenInput)


class AssignForm(forms.Form):
    investigator = PersonChoiceField(label=_("调查人"), queryset=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["investigator"].queryset = (
            get_user_model()
            .objects.filter(is_active=True, profile__role=Role.SUPERVISOR)
            .order_by("username")
        )


class LinkForm(forms.Form):
    visit = forms.IntegerField(label=_("回访编号"), min_value=1)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_visit(self):
        visit = visits_visible_to(self.user).filter(pk=self.cleaned_data["visit"]).first()
        if visit is None:
            raise forms.ValidationError(_("找不到该回访。"))
        return visit


class ClassifyForm(forms.Form):
    """Asks for the complex marking; another supervisor approves it."""

    reason = forms.CharField(label=_("理由"), max_length=300, required=False)


class ExtendForm(forms.Form):
    """Asks for the extension of a complex complaint; another supervisor approves it."""

    extension_days = forms.IntegerField(label=_("延长天数"), min_value=1, max_value=30)
    extension_reason = forms.CharField(label=_("延长理由"), max_length=300)


class DecideForm(forms.Form):
    """Another supervisor's decision on the pending request."""

    change = forms.IntegerField(widget=forms.HiddenInput)
    approve = forms.TypedChoiceField(
        label=_("审批意见"),
        choices=[("1", _("批准")), ("0", _("驳回"))],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
    )


class AnswerForm(forms.Form):
    upheld = forms.TypedChoiceField(
        label=_("投诉是否成立"),
        choices=[("1", _("成立")), ("0", _("不成立"))],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
    )
    answer = forms.CharField(label=_("答复内容"), widget=forms.Textarea(attrs={"rows": 4}))


class AttendanceForm(forms.Form):
    course = forms.ModelChoiceField(label=_("课程"), queryset=TrainingCourse.objects.none())
    agent = PersonChoiceField(label=_("回访人员"), queryset=None)
    attended_on = forms.DateField(label=_("日期"), widget=DateInput)
    hours = forms.DecimalField(label=_("学时"), min_value=0.5, max_value=999, decimal_places=1)
    passed = forms.BooleanField(label=_("通过"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["course"].queryset = TrainingCourse.objects.order_by("name")
        self.fields["agent"].queryset = agents_in(user)

    def clean_attended_on(self):
        day = self.cleaned_data["attended_on"]
        if day > timezone.localdate():
            raise forms.ValidationError(_("日期不能晚于今天。"))
        return day


class CourseForm(forms.ModelForm):
    class Meta:
        model = TrainingCourse
        fields = ["name", "hours", "grants"]


class PeriodForm(forms.Form):
    since = forms.DateField(label=_("从"), required=False, widget=DateInput)
    until = forms.DateField(label=_("至"), required=False, widget=DateInput)

    def period(self) -> tuple[dt.date, dt.date]:
        today = timezone.localdate()
        data = self.cleaned_data if self.is_valid() else {}
        until = data.get("until") or today
        since = data.get("since") or until - dt.timedelta(days=29)
        if since > until:
            since, until = until, since
        return since, until


class MonthForm(forms.Form):
    month = forms.DateField(label=_("月份"), input_formats=["%Y-%m", "%Y-%m-%d"], required=False)
