"""Forms of the agent workspace: worklist filters, contact attempts, the structured record."""

import re

from django import forms
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Department
from core.forms import PlainSelect
from core.presentation import vocabulary_choices
from escalations.models import Urgency
from visits.models import (
    OPEN_VISIT_STATUSES,
    AttemptOutcome,
    Handling,
    ItemStatus,
    UsageStatus,
    VisitKind,
)
from workspace.services import teller_event_id

PHONE_OUTCOMES = [
    (o.value, o.label)
    for o in (
        AttemptOutcome.REACHED,
        AttemptOutcome.NO_ANSWER,
        AttemptOutcome.BUSY,
        AttemptOutcome.WRONG_NUMBER,
        AttemptOutcome.REFUSED,
        AttemptOutcome.CALLBACK,
    )
]
USAGE_CHANNELS = vocabulary_choices("usage_channel")
NEEDS = vocabulary_choices("need")
YES_NO = [("yes", _("满意")), ("no", _("不满意"))]
CONTACT_ITEMS = ("mobile", "email", "landline", "address")
MOBILE_RE = re.compile(r"1[3-9]\d{9}")
LANDLINE_RE = re.compile(r"0\d{2,3}-?\d{7,8}(-\d{1,6})?")


class WorklistFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("类型"),
        required=False,
        choices=[("", _("全部"))] + VisitKind.choices,
        widget=PlainSelect,
    )
    status = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("", _("全部"))] + [(s.value, s.label) for s in OPEN_VISIT_STATUSES],
        widget=PlainSelect,
    )
    branch = forms.ChoiceField(label=_("网点"), required=False, widget=PlainSelect)

    def __init__(self, *args, branches=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].choices = [("", _("全部"))] + [(str(b.pk), str(b)) for b in branches]


class AttemptForm(forms.Form):
    outcome = forms.ChoiceField(label=_("联系结果"), choices=PHONE_OUTCOMES, widget=PlainSelect)
    callback_at = forms.DateTimeField(
        label=_("预约回拨时间"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    note = forms.CharField(label=_("备注"), required=False, max_length=500)

    def clean(self):
        data = super().clean()
        if data.get("outcome") == AttemptOutcome.CALLBACK:
            when = data.get("callback_at")
            if when is None:
                self.add_error("callback_at", _("预约回拨需要填写时间。"))
            elif when <= timezone.now():
                self.add_error("callback_at", _("预约回拨时间必须晚于现在。"))
        return data


def _radio(label, choices, initial):
    return forms.ChoiceField(
        label=label, choices=choices, initial=initial, widget=forms.RadioSelect
    )


class RecordForm(forms.Form):
    """The structured record of SPEC §2. Built per visit: one confirm/deny field per flagged
    transaction, the needs only with marketing consent, the satisfaction question on a
    follow-up visit."""

    # 1. Basic information
    mobile_status = _radio(_("手机号码"), ItemStatus.choices, ItemStatus.NOT_ASKED)
    mobile_new = forms.CharField(label=_("客户报告的新手机号"), required=False, max_length=20)
    email_status = _radio(_("电子邮箱"), ItemStatus.choices, ItemStatus.NOT_ASKED)
    email_new = forms.CharField(label=_("客户报告的新邮箱"), required=False, max_length=200)
    landline_status = _radio(_("固定电话"), ItemStatus.choices, ItemStatus.NOT_ASKED)
    landline_new = forms.CharField(label=_("客户报告的新固定电话"), required=False, max_length=30)
    address_status = _radio(_("地址"), ItemStatus.choices, ItemStatus.NOT_ASKED)
    address_new = forms.CharField(label=_("客户报告的新地址"), required=False, max_length=200)
    id_expiry_checked = forms.BooleanField(label=_("已核对证件有效期"), required=False)
    id_expiry_reported = forms.DateField(
        label=_("证件有效期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    # 2. Account use
    transactions_reviewed = forms.BooleanField(label=_("已核对近期交易"), required=False)
    usage_frequency = forms.CharField(label=_("使用频率"), required=False, max_length=50)
    amount_range = forms.CharField(label=_("金额范围"), required=False, max_length=50)
    usage_channels = forms.MultipleChoiceField(
        label=_("使用渠道"), required=False, choices=USAGE_CHANNELS,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    online_banking = _radio(_("网上银行"), UsageStatus.choices, UsageStatus.UNKNOWN)
    mobile_banking = _radio(_("手机银行"), UsageStatus.choices, UsageStatus.UNKNOWN)
    sms_alerts = _radio(_("短信提醒"), UsageStatus.choices, UsageStatus.UNKNOWN)
    channel_feedback = forms.CharField(
        label=_("渠道使用反馈"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    needs = forms.MultipleChoiceField(
        label=_("业务需求（营销线索）"), required=False, choices=NEEDS,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    needs_note = forms.CharField(label=_("需求说明"), required=False, max_length=300)
    # 3. Security reminders (required on every reached phone visit)
    reminder_anti_fraud = forms.BooleanField(
        label=_("已提示防诈骗：不向任何人透露密码和验证码"), required=False
    )
    reminder_safe_operation = forms.BooleanField(
        label=_("已提示安全操作：定期修改密码，避免使用公共 Wi-Fi"), required=False
    )
    # 4. Outcome
    feedback = forms.CharField(
        label=_("客户反馈"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    satisfaction = forms.TypedChoiceField(
        label=_("满意度"), required=False, coerce=int, empty_value=None,
        choices=[("", "-")] + [(str(i), str(i)) for i in range(1, 6)], widget=PlainSelect,
    )  # fmt: skip
    handling = _radio(_("问题处理"), Handling.choices, Handling.NO_PROBLEM)
    problem = forms.CharField(
        label=_("问题描述"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    escalate_department = forms.ModelChoiceField(
        label=_("转办部门"),
        required=False,
        queryset=Department.objects.order_by("code"),
        widget=PlainSelect,
    )
    escalate_urgency = forms.ChoiceField(
        label=_("紧急程度"),
        required=False,
        choices=[("", "-")] + Urgency.choices,
        widget=PlainSelect,
    )

    def __init__(self, *args, visit, flagged_events=(), marketing_consent=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.visit = visit
        self.flagged_events = list(flagged_events)
        for event in self.flagged_events:
            self.fields[f"txn_{event.pk}"] = forms.ChoiceField(
                label=str(event.pk),
                choices=[("confirm", _("客户确认")), ("deny", _("客户否认"))],
                widget=forms.RadioSelect,
                error_messages={"required": _("请选择客户确认或否认该笔交易。")},
            )
        if not marketing_consent:
            # No consent, no lead: the fields are not even offered.
            del self.fields["needs"]
            del self.fields["needs_note"]
        if visit.kind == VisitKind.FOLLOW_UP:
            self.fields["resolution_satisfied"] = forms.ChoiceField(
                label=_("客户对处理结果是否满意？"), choices=YES_NO, widget=forms.RadioSelect,
                error_messages={"required": _("跟踪回访需要记录客户对处理结果是否满意。")},
            )  # fmt: skip
            self.fields["resolution_words"] = forms.CharField(
                label=_("客户原话"), required=False, widget=forms.Textarea(attrs={"rows": 2})
            )

    def transaction_fields(self):
        return [(event, self[f"txn_{event.pk}"]) for event in self.flagged_events]

    def _clean_reported(self, data) -> None:
        """What the customer reports as new contact data must look like it (SPEC §2): a
        mainland mobile number, an e-mail address, a landline, an address that is not empty."""
        for item in CONTACT_ITEMS:
            status, key = data.get(f"{item}_status"), f"{item}_new"
            value = (data.get(key) or "").strip()
            if status != ItemStatus.CHANGED:
                if value:
                    self.add_error(key, _("填写新信息时，请在上方选择“有变更”。"))
                continue
            if not value:
                self.add_error(key, _("选择“有变更”时请填写客户报告的新信息。"))
                continue
            if item == "mobile":
                digits = re.sub(r"[\s-]", "", value)
                digits = digits[3:] if digits.startswith("+86") else digits
                if not MOBILE_RE.fullmatch(digits):
                    self.add_error(key, _("请输入 11 位中国大陆手机号码，例如 13812345678。"))
                    continue
                value = digits
            elif item == "email":
                try:
                    validate_email(value)
                except forms.ValidationError:
                    self.add_error(key, _("请输入有效的电子邮箱地址，例如 name@example.com。"))
                    continue
            elif item == "landline" and not LANDLINE_RE.fullmatch(value):
                self.add_error(key, _("请输入带区号的固定电话，例如 010-12345678。"))
                continue
            data[key] = value

    def clean(self):
        data = super().clean()
        self._clean_reported(data)
        if data.get("id_expiry_checked") and not data.get("id_expiry_reported"):
            if "id_expiry_reported" not in self.errors:
                self.add_error("id_expiry_reported", _("已核对证件有效期时请填写有效期。"))
        if not data.get("reminder_anti_fraud"):
            self.add_error("reminder_anti_fraud", _("必须向客户提示防诈骗事项后才能提交。"))
        if not data.get("reminder_safe_operation"):
            self.add_error("reminder_safe_operation", _("必须向客户提示安全操作事项后才能提交。"))
        handling = data.get("handling")
        if handling in (Handling.RESOLVED, Handling.ESCALATED) and not data.get("problem"):
            self.add_error("problem", _("请描述客户的问题。"))
        if handling == Handling.ESCALATED:
            if not data.get("escalate_department"):
                self.add_error("escalate_department", _("转办需要选择处理部门。"))
            if not data.get("escalate_urgency"):
                self.add_error("escalate_urgency", _("转办需要选择紧急程度。"))
        if data.get("id_expiry_reported") and not data.get("id_expiry_checked"):
            data["id_expiry_checked"] = True
        if data.get("resolution_satisfied") == "no" and not data.get("resolution_words"):
            self.add_error("resolution_words", _("客户不满意时请记录客户的原话或意见。"))
        return data

    def service_data(self) -> tuple[dict, dict[int, bool]]:
        """(data, transaction_checks) for ``record_submit``."""
        data = dict(self.cleaned_data)
        data["reported_values"] = {
            item: data.pop(f"{item}_new", "")
            for item in CONTACT_ITEMS
            if data.get(f"{item}_status") == ItemStatus.CHANGED
        }
        for item in CONTACT_ITEMS:
            data.pop(f"{item}_new", None)
        if "resolution_satisfied" in data:
            data["resolution_satisfied"] = data["resolution_satisfied"] == "yes"
        checks = {
            event.pk: data.pop(f"txn_{event.pk}") == "confirm" for event in self.flagged_events
        }
        return data, checks


class QuestionnaireForm(forms.Form):
    """The public questionnaire, built from the visit kind's QuestionnaireQuestion rows."""

    def __init__(self, *args, questions, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = questions
        for q in questions:
            if q.answer_type == "yes_no":
                field = forms.ChoiceField(
                    label=q.text, choices=[("yes", _("是")), ("no", _("否"))],
                    widget=forms.RadioSelect,
                )  # fmt: skip
            elif q.answer_type == "rating":
                field = forms.TypedChoiceField(
                    label=q.text, coerce=int,
                    choices=[(str(i), str(i)) for i in range(1, 6)], widget=forms.RadioSelect,
                )  # fmt: skip
            else:
                field = forms.CharField(
                    label=q.text, required=False, max_length=1000,
                    widget=forms.Textarea(attrs={"rows": 3}),
                )  # fmt: skip
            self.fields[q.code] = field


class TellerEventForm(forms.Form):
    """A special event seen at the counter. The account is looked up in the teller's scope."""

    account_number = forms.CharField(label=_("账号"), max_length=32)
    event_type = forms.ChoiceField(
        label=_("事件类型"),
        choices=[("info_changed", _("客户信息变更")), ("complaint", _("柜面投诉"))],
        widget=forms.RadioSelect,
    )
    changed_fields = forms.MultipleChoiceField(
        label=_("变更的信息"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[("mobile", _("手机号码")), ("email", _("电子邮箱")),
                 ("landline", _("固定电话")), ("address", _("地址"))],
    )  # fmt: skip
    text = forms.CharField(
        label=_("投诉内容"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip
    # Made when the form is shown: the same form sent twice stores its event once.
    event_id = forms.RegexField(
        regex=r"^teller-[0-9a-f-]{36}$", required=False, initial=teller_event_id,
        widget=forms.HiddenInput,
    )  # fmt: skip

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.accounts = accounts
        self.account = None

    def clean_account_number(self):
        number = self.cleaned_data["account_number"].strip().replace(" ", "")
        self.account = self.accounts.by_number(number).select_related("customer").first()
        if self.account is None:
            # Out of the teller's branches and nonexistent look the same.
            raise forms.ValidationError(_("未找到该账号（仅限本网点账户）。"))
        return number

    def clean(self):
        data = super().clean()
        if data.get("event_type") == "info_changed" and not data.get("changed_fields"):
            self.add_error("changed_fields", _("请选择变更的信息。"))
        if data.get("event_type") == "complaint" and not (data.get("text") or "").strip():
            self.add_error("text", _("请填写投诉内容。"))
        return data
