"""Pages of records integrity: the record with its amendments, corrections, the destruction
procedure, and the audit-log search (supervisors and the audit administrator)."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.models import Role
from accounts.permissions import has_role, role_required, staff_ids_visible_to
from core import presentation
from core.audit_actions import AuditAction
from core.masking import mask_name
from core.models import AuditLogEntry
from supervision.models import DestructionList
from supervision.record_search import RecordSearchForm, record_search
from supervision.records import amendable_fields, effective_value, record_amend
from supervision.retention import (
    destruction_list_approve,
    destruction_list_draft,
    destruction_list_execute,
)
from visits.access import records_visible_to
from visits.models import VisitRecord
from visits.presentation import record_rows, stored_text_words

RECORD_ROLES = (Role.AGENT, Role.SUPERVISOR)


def _record_for(user, pk):
    queryset = records_visible_to(user).select_related("visit__account__customer", "submitted_by")
    if not has_role(user, Role.SUPERVISOR):
        queryset = queryset.filter(submitted_by=user)
    return get_object_or_404(queryset, pk=pk)


SEARCH_PAGE_SIZE = 50


@role_required(*RECORD_ROLES)
def record_list(request):
    """Search records: supervisors their branches, agents their own (fixed number of queries)."""
    form = RecordSearchForm(request.GET or None, user=request.user)
    status = 200
    if form.is_bound and not form.is_valid():
        records, status = VisitRecord.objects.none(), 400
    else:
        records = record_search(request.user, form.cleaned_data if form.is_bound else {})
    page = Paginator(records, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
    for record in page.object_list:
        customer = record.visit.account.customer
        record.masked_customer = mask_name(customer.name)
        record.masked_account = record.visit.account.masked_number
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "records/list.html",
        {"form": form, "page": page, "query": query.urlencode()},
        status=status,
    )


@role_required(*RECORD_ROLES)
def record_detail(request, pk):
    record = _record_for(request.user, pk)
    amendments = list(record.amendments.select_related("amended_by"))
    return render(
        request,
        "records/detail.html",
        {
            "record": record,
            "fields": record_rows(record),
            "amendments": amendments,
            "amendment_rows": amendment_rows(amendments),
        },
    )


def amendment_rows(amendments) -> list[dict]:
    return [
        {
            "amendment": a,
            "field": presentation.field_label("visits.VisitRecord", a.field),
            "old": stored_text_words(a.field, a.old_value),
            "new": stored_text_words(a.field, a.new_value),
            "by": presentation.person_name(a.amended_by),
        }
        for a in amendments
    ]


def _new_value_field(model_field) -> forms.Field:
    """The input for a corrected value: the record form's labelled choices, yes/no for a
    checkbox, a date picker for a date, text otherwise."""
    label = _("新值")
    if isinstance(model_field, models.BooleanField):
        return forms.ChoiceField(
            label=label, choices=[("True", _("是")), ("False", _("否"))], widget=forms.RadioSelect
        )
    if model_field.choices:
        return forms.ChoiceField(
            label=label, choices=list(model_field.choices), widget=forms.RadioSelect
        )
    if isinstance(model_field, models.DateField):
        return forms.DateField(
            label=label, required=False, widget=forms.DateInput(attrs={"type": "date"})
        )
    if isinstance(model_field, models.PositiveSmallIntegerField):
        return forms.TypedChoiceField(
            label=label, coerce=int, choices=[(str(i), str(i)) for i in range(1, 6)]
        )
    return forms.CharField(label=label, required=False, max_length=2000)


class AmendmentForm(forms.Form):
    field = forms.ChoiceField(label=_("字段"))
    reason = forms.CharField(label=_("更正原因"), max_length=300)

    def __init__(self, *args, field_name=None, **kwargs):
        super().__init__(*args, **kwargs)
        amendable = {f.name: f for f in amendable_fields()}
        self.fields["field"].choices = [(n, f.verbose_name) for n, f in amendable.items()]
        if field_name in amendable:
            self.fields["field"].initial = field_name
            self.fields["new_value"] = _new_value_field(amendable[field_name])
            self.order_fields(["field", "new_value", "reason"])

    def amendment(self) -> dict:
        data = dict(self.cleaned_data)
        value = data.get("new_value")
        data["new_value"] = "" if value is None else str(value)
        return data


@role_required(*RECORD_ROLES)
def record_amend_view(request, pk):
    record = _record_for(request.user, pk)
    field_name = request.POST.get("field") or request.GET.get("field")
    form = AmendmentForm(request.POST or None, field_name=field_name)
    if request.method == "POST" and "new_value" in form.fields and form.is_valid():
        try:
            record_amend(record=record, by=request.user, **form.amendment())
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("更正已保存，原记录保持不变。"))
            return redirect("records:detail", pk=record.pk)
    status = 400 if request.method == "POST" else 200
    current = None
    if "new_value" in form.fields:
        current = stored_text_words(field_name, effective_value(record, field_name))
    return render(
        request,
        "records/amend.html",
        {"record": record, "form": form, "current": current},
        status=status,
    )


@role_required(Role.SUPERVISOR)
def destruction_lists(request):
    if request.method == "POST":
        created = destruction_list_draft(by=request.user)
        if created is None:
            messages.info(request, _("目前没有到期需销毁的记录。"))
            return redirect("records:destruction_lists")
        return redirect("records:destruction_detail", pk=created.pk)
    page = Paginator(
        _destruction_lists_of(request.user).select_related("created_by", "approved_by"), 25
    ).get_page(request.GET.get("page"))
    return render(request, "records/destruction_lists.html", {"page": page})


def _destruction_lists_of(user):
    # Lists drafted by the staff of the user's branches, and those the monthly job drafted
    # (out of scope: 404).
    return DestructionList.objects.filter(
        Q(created_by__in=staff_ids_visible_to(user)) | Q(created_by__isnull=True)
    )


@role_required(Role.SUPERVISOR)
def destruction_detail(request, pk):
    destruction_list = get_object_or_404(_destruction_lists_of(request.user), pk=pk)
    items = Paginator(destruction_list.items.order_by("object_type", "pk"), 100).get_page(
        request.GET.get("page")
    )
    certificate = getattr(destruction_list, "certificate", None)
    return render(
        request,
        "records/destruction_detail.html",
        {"list": destruction_list, "items": items, "certificate": certificate},
    )


@require_POST
@role_required(Role.SUPERVISOR)
def destruction_act(request, pk, action):
    if action not in ("approve", "execute"):
        raise Http404
    destruction_list = get_object_or_404(_destruction_lists_of(request.user), pk=pk)
    try:
        if action == "approve":
            destruction_list_approve(destruction_list=destruction_list, by=request.user)
            messages.success(request, _("清单已批准。"))
        else:
            destruction_list_execute(destruction_list=destruction_list, by=request.user)
            messages.success(request, _("销毁已执行，销毁证明已生成。"))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("records:destruction_detail", pk=pk)


class AuditLogFilter(forms.Form):
    actor = forms.CharField(label=_("操作人"), required=False, max_length=150)
    action = forms.CharField(
        label=_("操作"),
        required=False,
        max_length=50,
        help_text=_("操作名称（如“领取回访”）或代码开头（如 visit.）"),
    )
    object_type = forms.CharField(label=_("对象类型"), required=False, max_length=50)
    object_id = forms.CharField(label=_("对象编号"), required=False, max_length=64)
    date_from = forms.DateField(label=_("开始日期"), required=False)
    date_to = forms.DateField(label=_("结束日期"), required=False)

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("结束日期不能早于开始日期。"))
        return data


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


AUDIT_PAGE_SIZE = 50


@role_required(Role.SUPERVISOR, Role.AUDIT_ADMIN)
def audit_log(request):
    form = AuditLogFilter(request.GET or None)
    entries = AuditLogEntry.objects.order_by("-pk")
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
        entries = entries.none()
    elif form.is_bound:
        data = form.cleaned_data
        if data["actor"]:
            entries = entries.filter(actor_label=data["actor"])
        if data["action"]:
            by_label = {str(label): code for code, label in AuditAction.choices}
            if code := by_label.get(data["action"].strip()):
                entries = entries.filter(action=code)
            else:
                entries = entries.filter(action__startswith=data["action"])
        if data["object_type"]:
            entries = entries.filter(object_type=data["object_type"])
        if data["object_id"]:
            entries = entries.filter(object_id=data["object_id"])
        if data["date_from"]:
            entries = entries.filter(at__gte=_day_start(data["date_from"]))
        if data["date_to"]:
            entries = entries.filter(at__lt=_day_start(data["date_to"] + dt.timedelta(days=1)))
    # Keyset pagination, newest first: "older" continues below the last entry shown. No page
    # count, so no COUNT(*) over millions of entries; each page is one index range scan.
    before, before_error = None, ""
    raw_before = request.GET.get("before", "")
    if raw_before:
        if raw_before.isascii() and raw_before.isdigit() and 0 < int(raw_before) < 2**63:
            before = int(raw_before)
            entries = entries.filter(pk__lt=before)
        else:
            before_error = _("分页位置无效。")
            status, entries = 400, entries.none()
    rows = list(entries.select_related("actor")[: AUDIT_PAGE_SIZE + 1])
    older = rows[AUDIT_PAGE_SIZE - 1].pk if len(rows) > AUDIT_PAGE_SIZE else None
    actions = dict(AuditAction.choices)
    for entry in rows:
        entry.action_label = str(actions.get(entry.action, entry.action))
        entry.sentence = presentation.audit_sentence(entry, entry.action_label)
        entry.diff = presentation.audit_diff(entry)
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "supervision/audit_log.html",
        {
            "form": form,
            "entries": rows[:AUDIT_PAGE_SIZE],
            "older": older,
            "paged": before is not None,
            "before_error": before_error,
            "query": query.urlencode(),
        },
        status=status,
    )
