"""Pages of the escalation loop: the department inbox, the escalation page with its timeline,
escalating from a visit, and the user's notifications."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.models import Department, Role
from accounts.permissions import has_role, role_of, role_required
from core.masking import mask_name
from core.models import Notification
from core.notifications import notifications_read_for
from escalations.access import escalation_for_user, escalations_visible_to
from escalations.actions import (
    ACTION_LABELS,
    ACTION_ROLES,
    ACTIVE_STATUSES,
    TRANSITIONS,
    Action,
    EscalationError,
)
from escalations.deadlines import escalations_raised, near_deadline_threshold
from escalations.models import Escalation, EscalationStatus, Urgency
from escalations.selectors import escalation_stats, escalations_with_timeline
from escalations.services import (
    detail_link,
    escalation_accept,
    escalation_extend,
    escalation_open,
    escalation_reply,
    escalation_resolve,
    escalation_transfer,
)
from visits.access import visit_for_user
from visits.presentation import record_rows

STAFF = (Role.AGENT, Role.HANDLER, Role.SUPERVISOR)


# --- Forms ----------------------------------------------------------------------------------


class OpenForm(forms.Form):
    department = forms.ModelChoiceField(Department.objects.all(), label=gettext_lazy("处理部门"))
    urgency = forms.ChoiceField(
        choices=Urgency.choices, initial=Urgency.NORMAL, label=gettext_lazy("紧急程度")
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=2000, label=gettext_lazy("问题描述")
    )


class ResolveForm(forms.Form):
    result = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, label=gettext_lazy("处理结果")
    )


class TransferForm(forms.Form):
    department = forms.ModelChoiceField(Department.objects.all(), label=gettext_lazy("转交给部门"))
    reason = forms.CharField(max_length=500, label=gettext_lazy("转交原因"))


class ReplyForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        label=gettext_lazy("回复客户情况"),
    )


class ExtendForm(forms.Form):
    new_deadline = forms.DateTimeField(
        label=gettext_lazy("新的处理时限"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    reason = forms.CharField(max_length=500, label=gettext_lazy("延期原因"))


ACTION_FORMS = {
    Action.ACCEPT: None,
    Action.RESOLVE: ResolveForm,
    Action.TRANSFER: TransferForm,
    Action.REPLY: ReplyForm,
    Action.EXTEND: ExtendForm,
}
ACTION_SERVICES = {
    Action.ACCEPT: escalation_accept,
    Action.RESOLVE: escalation_resolve,
    Action.TRANSFER: escalation_transfer,
    Action.REPLY: escalation_reply,
    Action.EXTEND: escalation_extend,
}


def actions_for(escalation: Escalation, user) -> set[str]:
    """The page actions this user may take on the escalation now (the service re-checks)."""
    return {
        action
        for action in ACTION_FORMS
        if (escalation.status, action) in TRANSITIONS and has_role(user, *ACTION_ROLES[action])
    }


def _annotate(escalations, now, near_before):
    for e in escalations:
        active = e.status in ACTIVE_STATUSES
        e.is_overdue = active and e.deadline_at < now
        e.is_near = active and not e.is_overdue and e.deadline_at < near_before
    return escalations


# --- Inbox ----------------------------------------------------------------------------------

FILTERS = {
    "active": gettext_lazy("待处理"),
    "reply": gettext_lazy("待回复客户"),
    "followup": gettext_lazy("跟踪回访中"),
    "raised": gettext_lazy("已上报（多次或严重超时）"),
    "closed": gettext_lazy("已关闭"),
    "all": gettext_lazy("全部"),
}


def _filtered(queryset, show, now):
    if show == "active":
        return queryset.filter(status__in=ACTIVE_STATUSES)
    if show == "reply":
        return queryset.filter(status=EscalationStatus.RESOLVED)
    if show == "followup":
        return queryset.filter(status=EscalationStatus.REPLIED)
    if show == "raised":
        return escalations_raised(queryset, now)
    if show == "closed":
        return queryset.filter(status=EscalationStatus.CLOSED)
    return queryset


@role_required(*STAFF)
def inbox(request):
    """Handlers: their departments' escalations; agents and supervisors: their branches'.
    Sorted by deadline; overdue rows and rows with less than one working hour left marked."""
    role = role_of(request.user)
    default = {Role.AGENT: "reply", Role.SUPERVISOR: "active"}.get(role, "active")
    show = request.GET.get("show") or default
    if show not in FILTERS:
        show = default
    now = timezone.now()
    scoped = escalations_visible_to(request.user)
    # Queries: the page of escalations (with department, handler, account), the department list
    # for the transfer form, the raised count.
    escalations = list(
        _filtered(scoped, show, now)
        .select_related("department", "handler", "account")
        .order_by("deadline_at", "pk")[:200]
    )
    _annotate(escalations, now, near_deadline_threshold(now))
    return render(
        request,
        "escalations/inbox.html",
        {
            "escalations": escalations,
            "filters": FILTERS,
            "show": show,
            "departments": list(Department.objects.all()),
            "raised_count": escalations_raised(scoped, now).count(),
            "role": role,
        },
    )


# --- One escalation -------------------------------------------------------------------------


def _detail_context(request, escalation, forms_by_action=None, error=None):
    now = timezone.now()
    escalation = escalations_with_timeline(Escalation.objects.filter(pk=escalation.pk)).get()
    _annotate([escalation], now, near_deadline_threshold(now))
    allowed = actions_for(escalation, request.user)
    forms_by_action = forms_by_action or {}
    action_forms = {
        action: forms_by_action.get(action) or form_class(prefix=action)
        for action, form_class in ACTION_FORMS.items()
        if form_class is not None and action in allowed
    }
    source = (
        Escalation.objects.select_related("account__customer", "record", "visit__record")
        .only(
            "pk",
            "account__number_masked",
            "account__customer__name",
            "record",
            "visit__kind",
            "visit__record",
        )  # fmt: skip
        .get(pk=escalation.pk)
    )
    record = source.record or getattr(source.visit, "record", None)
    return {
        "escalation": escalation,
        # What a department needs to act without seeing more than it must: the customer and
        # account masked, the agent's record read-only.
        "source": {
            "customer": mask_name(source.account.customer.name),
            "account": source.account.masked_number,
            "visit_kind": source.visit.get_kind_display(),
            "record": record,
            "record_rows": record_rows(record) if record is not None else [],
            "may_open_visit": has_role(request.user, Role.AGENT, Role.SUPERVISOR),
        },
        "escalation_list": [escalation],
        "allowed": allowed,
        "action_forms": action_forms,
        "error": error,
        "raised": escalations_raised(Escalation.objects.filter(pk=escalation.pk), now).exists(),
    }


@role_required(*STAFF)
def detail(request, pk):
    escalation = escalation_for_user(request.user, pk)
    return render(request, "escalations/detail.html", _detail_context(request, escalation))


@require_POST
@role_required(*STAFF)
def act(request, pk, action):
    """Accept, resolve, transfer, reply or extend, from the escalation page or (htmx) from a
    row of the inbox, which then gets its row back."""
    if action not in ACTION_FORMS:
        raise Http404
    escalation = escalation_for_user(request.user, pk)
    form_class = ACTION_FORMS[action]
    form = form_class(request.POST, prefix=action) if form_class else None
    error = None
    if form is None or form.is_valid():
        data = form.cleaned_data if form else {}
        try:
            escalation = ACTION_SERVICES[action](escalation=escalation, by=request.user, **data)
        except EscalationError as exc:
            if form is not None and exc.field in form.fields:
                form.add_error(exc.field, exc.message)
            else:
                error = exc.message
        else:
            notifications_read_for(user=request.user, link=detail_link(escalation))
    failed = error is not None or (form is not None and not form.is_valid())
    if request.htmx and request.POST.get("from") == "inbox":
        now = timezone.now()
        escalation.refresh_from_db()
        _annotate([escalation], now, near_deadline_threshold(now))
        if form is not None and form.errors:
            error = "; ".join(str(m) for errors in form.errors.values() for m in errors)
        return render(
            request,
            "escalations/_row.html",
            {
                "e": escalation,
                "departments": list(Department.objects.all()),
                "role": role_of(request.user),
                "row_error": error,
                "row_done": None
                if failed
                else _("已完成：%(action)s") % {"action": ACTION_LABELS[action]},
            },
        )
    if not failed:
        messages.success(request, _("已完成：%(action)s") % {"action": ACTION_LABELS[action]})
        return redirect("escalations:detail", pk=escalation.pk)
    context = _detail_context(request, escalation, {action: form} if form else None, error)
    return render(request, "escalations/detail.html", context, status=409 if error else 400)


# --- Escalating from a visit ----------------------------------------------------------------


@role_required(Role.AGENT, Role.SUPERVISOR)
def open_from_visit(request, visit_pk):
    visit = visit_for_user(request.user, visit_pk)
    form = OpenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            escalation = escalation_open(visit=visit, by=request.user, **form.cleaned_data)
        except EscalationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request,
                _("已转办给 %(department)s，处理时限 %(deadline)s")
                % {
                    "department": escalation.department.name,
                    "deadline": timezone.localtime(escalation.deadline_at).strftime(
                        "%Y-%m-%d %H:%M"
                    ),
                },
            )
            return redirect("escalations:detail", pk=escalation.pk)
    existing = escalations_with_timeline(
        escalations_visible_to(request.user).filter(visit=visit).order_by("created_at")
    )
    return render(
        request,
        "escalations/open.html",
        {"visit": visit, "form": form, "escalations": list(existing)},
        status=400 if form.errors else 200,
    )


# --- Statistics -----------------------------------------------------------------------------


@role_required(Role.SUPERVISOR)
def stats(request):
    try:
        days = max(1, min(int(request.GET.get("days", 30)), 366))
    except ValueError:
        days = 30
    # Whole local days: today and the days - 1 before it.
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    until = midnight + timedelta(days=1)
    since = until - timedelta(days=days)
    rows = escalation_stats(since=since, until=until, queryset=escalations_visible_to(request.user))
    return render(request, "escalations/stats.html", {"rows": rows, "days": days})


# --- Notifications --------------------------------------------------------------------------


@role_required(*Role.values)
def notifications(request):
    items = Notification.objects.filter(user=request.user).order_by("-created_at", "-pk")[:100]
    return render(request, "notifications/list.html", {"notifications": items})


@require_POST
@role_required(*Role.values)
def notification_open(request, pk):
    notification = get_object_or_404(Notification, pk=pk, user=request.user)
    if notification.read_at is None:
        Notification.objects.filter(pk=pk, read_at__isnull=True).update(read_at=timezone.now())
    link = notification.link
    if link.startswith("/") and not link.startswith("//"):
        return redirect(link)
    return redirect("escalations:notifications")


@require_POST
@role_required(*Role.values)
def notifications_read_all(request):
    Notification.objects.filter(user=request.user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    return redirect("escalations:notifications")
