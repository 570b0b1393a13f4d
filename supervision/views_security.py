"""Pages of records integrity: the record with its amendments, corrections, the destruction
procedure, and the audit-log search (supervisors and the audit administrator)."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.models import Role
from accounts.permissions import has_role, role_required
from core.models import AuditLogEntry
from supervision.models import DestructionList
from supervision.records import amendable_fields, record_amend
from supervision.retention import (
    destruction_list_approve,
    destruction_list_draft,
    destruction_list_execute,
)
from visits.access import records_visible_to

RECORD_ROLES = (Role.AGENT, Role.SUPERVISOR)


def _record_for(user, pk):
    queryset = records_visible_to(user).select_related("visit__account__customer", "submitted_by")
    if not has_role(user, Role.SUPERVISOR):
        queryset = queryset.filter(submitted_by=user)
    return get_object_or_404(queryset, pk=pk)


@role_required(*RECORD_ROLES)
def record_detail(request, pk):
    record = _record_for(request.user, pk)
    fields = [(f.verbose_name, f.name, getattr(record, f.name)) for f in amendable_fields()]
    return render(
        request,
        "records/detail.html",
        {
            "record": record,
            "fields": fields,
            "amendments": record.amendments.select_related("amended_by"),
        },
    )


class AmendmentForm(forms.Form):
    field = forms.ChoiceField(label=_("字段"))
    new_value = forms.CharField(label=_("新值"), required=False, max_length=2000)
    reason = forms.CharField(label=_("更正原因"), max_length=300)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = [(f.name, f.verbose_name) for f in amendable_fields()]


@role_required(*RECORD_ROLES)
def record_amend_view(request, pk):
    record = _record_for(request.user, pk)
    form = AmendmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            record_amend(record=record, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("更正已保存，原记录保持不变。"))
            return redirect("records:detail", pk=record.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "records/amend.html", {"record": record, "form": form}, status=status)


@role_required(Role.SUPERVISOR)
def destruction_lists(request):
    if request.method == "POST":
        created = destruction_list_draft(by=request.user)
        if created is None:
            messages.info(request, _("目前没有到期需销毁的记录。"))
            return redirect("records:destruction_lists")
        return redirect("records:destruction_detail", pk=created.pk)
    page = Paginator(
        DestructionList.objects.select_related("created_by", "approved_by"), 25
    ).get_page(request.GET.get("page"))
    return render(request, "records/destruction_lists.html", {"page": page})


@role_required(Role.SUPERVISOR)
def destruction_detail(request, pk):
    destruction_list = get_object_or_404(DestructionList, pk=pk)
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
    destruction_list = get_object_or_404(DestructionList, pk=pk)
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
    action = forms.CharField(label=_("操作"), required=False, max_length=50)
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
    rows = list(entries[: AUDIT_PAGE_SIZE + 1])
    older = rows[AUDIT_PAGE_SIZE - 1].pk if len(rows) > AUDIT_PAGE_SIZE else None
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
