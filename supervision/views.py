"""Supervision pages: dashboard, audit samples and reviews, corrective actions, complaints,
training, the monthly ranking, and the exports."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, Count, F, When
from django.http import FileResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import Role
from accounts.permissions import (
    has_role,
    may_reveal_personal_data,
    role_required,
    staff_ids_visible_to,
)
from core.audit import audit, client_ip
from core.audit_actions import AuditAction
from core.calendar import next_year_missing
from core.masking import mask_name
from core.notifications import notifications_read_about
from supervision import exports
from supervision.assessment import AssessmentFrozen, assessment_compute
from supervision.complaints import (
    complaint_answer,
    complaint_assign,
    complaint_change_decide,
    complaint_change_request,
    complaint_form_allowed,
    complaint_link,
    complaint_may_decide,
    complaint_register,
    overdue_key_prefix,
)
from supervision.forms import (
    AnswerForm,
    AssignForm,
    AttendanceForm,
    ClassifyForm,
    CourseForm,
    DecideForm,
    ExtendForm,
    LinkForm,
    MonthForm,
    PeriodForm,
    PublicComplaintForm,
    ReviewForm,
    SampleDrawForm,
    StaffComplaintForm,
)
from supervision.models import (
    AuditSample,
    AuditSampleItem,
    ComplaintChangeKind,
    ComplaintSource,
    ComplaintStatus,
    CorrectiveAction,
    MonthlyAssessment,
    TrainingAttendance,
    TrainingCourse,
)
from supervision.reviews import corrective_action_acknowledge, review_checks, review_submit
from supervision.sampling import sample_draw, sample_open, sample_verify, samples_with_progress
from supervision.selectors import complaints_visible_to, complaints_with_clock, dashboard_data
from supervision.training import training_attendance_record
from visits.access import records_visible_to
from visits.models import VisitKind

supervisor_only = role_required(Role.SUPERVISOR)


def _form_errors_to(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- Dashboard -------------------------------------------------------------------------------


@supervisor_only
def dashboard(request):
    form = PeriodForm(request.GET or None)
    since, until = form.period()
    data = dashboard_data(user=request.user, since=since, until=until)
    labels = {
        "due": _("到期"),
        "done": _("已完成"),
        "overdue": _("逾期"),
        "reach": _("接通率"),
        "on_time": _("及时率"),
        "opened": _("转办数"),
        "kept": _("按时处理"),
        "satisfaction": _("平均满意度"),
        "composite": _("综合得分"),
        "kinds": {kind: str(label) for kind, label in VisitKind.choices},
    }
    return render(
        request,
        "supervision/dashboard.html",
        {
            "form": form,
            "since": since,
            "until": until,
            "data": data,
            "labels": labels,
            "calendar_missing_year": next_year_missing(),
        },
    )


# --- Audit samples -------------------------------------------------------------------------


def _own_sample(user, pk) -> AuditSample:
    return get_object_or_404(AuditSample, pk=pk, created_by=user)


@supervisor_only
def samples(request):
    form = SampleDrawForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        rate = data["rate_percent"] / 100 if data["rate_percent"] is not None else None
        try:
            sample = sample_draw(
                period_start=data["period_start"],
                period_end=data["period_end"],
                scope=form.scope(),
                rate=rate,
                size=data["size"],
                seed=data["seed"],
                by=request.user,
                request=request,
            )
        except ValidationError as exc:
            _form_errors_to(form, exc)
        else:
            messages.success(request, _("已抽取 %(n)d 条记录。") % {"n": sample.items.count()})
            return redirect("supervision:sample", pk=sample.pk)
    listing = samples_with_progress(AuditSample.objects.filter(created_by=request.user))
    page = Paginator(listing.order_by("-created_at", "-pk"), 25).get_page(request.GET.get("page"))
    return render(request, "supervision/samples.html", {"form": form, "page": page})


@supervisor_only
def sample_detail(request, pk):
    sample = _own_sample(request.user, pk)
    # One query for the items with their record, visit and review.
    items = (
        sample.items.select_related(
            "record__visit__branch", "agent", "review", "record__visit__account"
        )
        .annotate(reviewed=Count("review"))
        .order_by("pk")
    )
    progress = sample.items.aggregate(total=Count("pk"), reviewed=Count("review"))
    verified = None
    if request.GET.get("verify") == "1":
        verified = sample_verify(sample)
        audit(AuditAction.SAMPLE_VERIFY, actor=request.user, obj=sample, after={"same": verified})
    return render(
        request,
        "supervision/sample_detail.html",
        {"sample": sample, "items": items, "progress": progress, "verified": verified},
    )


@supervisor_only
@require_POST
def sample_start(request, pk):
    sample = _own_sample(request.user, pk)
    sample_open(sample=sample, by=request.user, request=request)
    return redirect("supervision:sample", pk=sample.pk)


@supervisor_only
def review(request, pk):
    item = get_object_or_404(
        AuditSampleItem.objects.select_related(
            "sample", "agent", "record__visit__account__customer", "record__visit__branch"
        ).filter(record__in=records_visible_to(request.user).values("pk")),
        pk=pk,
        sample__created_by=request.user,
    )
    existing = getattr(item, "review", None)  # a reverse one-to-one: None when absent
    # The form asks whether the record escalated (a query): only while there is a review to take.
    form = None if existing else ReviewForm(request.POST or None, record=item.record)
    if request.method == "POST":
        if existing is not None:
            messages.error(request, _("该记录已评审完成，不能修改。"))
            return redirect("supervision:review", pk=item.pk)
        if form.is_valid():
            data = form.cleaned_data
            try:
                review_submit(
                    item=item,
                    reviewer=request.user,
                    checklist=form.checklist(),
                    score=data["score"],
                    findings=data["findings"],
                    action_due_on=data["action_due_on"],
                    request=request,
                )
            except ValidationError as exc:
                _form_errors_to(form, exc)
            else:
                messages.success(request, _("评审已保存。"))
                return redirect("supervision:sample", pk=item.sample_id)
    return render(
        request,
        "supervision/review.html",
        {
            "item": item,
            "record": item.record,
            "customer_name": mask_name(item.record.visit.account.customer.name),
            "form": form,
            "existing": existing,
            "checks": review_checks(existing) if existing else [],
            "actions": existing.actions.all() if existing else [],
        },
    )


# --- Corrective actions (the agent's side) ---------------------------------------------------


@role_required(Role.AGENT)
def my_actions(request):
    actions = (
        CorrectiveAction.objects.filter(agent=request.user)
        .select_related("review__item__record")
        .order_by("acknowledged_at", "due_on", "pk")
    )
    return render(
        request, "supervision/my_actions.html", {"actions": actions, "today": timezone.localdate()}
    )


@role_required(Role.AGENT)
@require_POST
def action_acknowledge(request, pk):
    action = get_object_or_404(CorrectiveAction, pk=pk, agent=request.user)
    if corrective_action_acknowledge(action=action, by=request.user, request=request):
        messages.success(request, _("已确认整改事项。"))
    return redirect("supervision:my_actions")


# --- Complaints ----------------------------------------------------------------------------


@supervisor_only
def complaints(request):
    listing = complaints_with_clock(complaints_visible_to(request.user))
    status = request.GET.get("status", "")
    if status in ComplaintStatus.values:
        listing = listing.filter(status=status)
    if request.GET.get("overdue") == "1":
        listing = listing.filter(is_overdue=True)
    # Open complaints first, nearest deadline first; answered ones after them.
    answered_last = Case(When(status=ComplaintStatus.ANSWERED, then=1), default=0)
    listing = listing.select_related("agent", "investigator", "branch").order_by(
        answered_last, "decision_due_at", "pk"
    )
    page = Paginator(listing, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "supervision/complaints.html",
        {
            "page": page,
            "status": status,
            "statuses": ComplaintStatus.choices,
            "now": timezone.now(),
        },
    )


@role_required(Role.SUPERVISOR, Role.TELLER)
def complaint_new(request):
    form = StaffComplaintForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        complaint = complaint_register(
            source=data["source"],
            text=data["text"],
            by=request.user,
            received_at=data["received_at"],
            visit=data["visit"],
            agent=data["agent"],
            contact_name=data["contact_name"],
            contact_phone=data["contact_phone"],
            is_complex=data["is_complex"],
            request=request,
        )
        messages.success(request, _("投诉已登记（编号 %(pk)s）。") % {"pk": complaint.pk})
        if has_role(request.user, Role.SUPERVISOR):
            return redirect("supervision:complaint", pk=complaint.pk)
        return redirect("supervision:complaint_new")
    return render(request, "supervision/complaint_new.html", {"form": form})


COMPLAINT_ACTIONS = {
    "assign": AssignForm,
    "link": LinkForm,
    "classify": ClassifyForm,  # asks for the complex marking
    "extend": ExtendForm,  # asks for an extension of a complex complaint
    "decide": DecideForm,  # another supervisor approves or rejects what was asked
    "answer": AnswerForm,
}


def _may_answer(complaint, user) -> bool:
    """Only the appointed investigator answers, once the investigation is under way."""
    return (
        complaint.status == ComplaintStatus.INVESTIGATING and complaint.investigator_id == user.pk
    )


@supervisor_only
def complaint_detail(request, pk):
    complaint = get_object_or_404(
        complaints_with_clock(complaints_visible_to(request.user)).select_related(
            "agent", "investigator", "visit", "branch", "registered_by", "extension_approved_by"
        ),
        pk=pk,
    )
    action = request.POST.get("action", "")
    pending = list(
        complaint.change_requests.filter(decided_at__isnull=True).select_related("requested_by")
    )
    decidable = [c for c in pending if complaint_may_decide(change=c, user=request.user)]
    offered = _complaint_actions_offered(complaint, request.user, pending, decidable)
    forms = {
        name: (
            cls(request.POST if action == name else None, user=request.user)
            if name == "link"
            else cls(
                request.POST if action == name else None,
                initial={"change": decidable[0].pk} if name == "decide" and decidable else None,
            )
        )
        for name, cls in COMPLAINT_ACTIONS.items()
        # A refused action posted anyway is shown with the service's reason.
        if name in offered or (name == action and name != "answer")
    }
    if request.method == "POST":
        form = forms.get(action)
        if form is None:
            return HttpResponseBadRequest(_("未知操作。"))
        if form.is_valid():
            data = form.cleaned_data
            try:
                if action == "assign":
                    complaint_assign(
                        complaint=complaint,
                        investigator=data["investigator"],
                        by=request.user,
                        request=request,
                    )
                elif action == "link":
                    complaint_link(
                        complaint=complaint, visit=data["visit"], by=request.user, request=request
                    )
                elif action == "classify":
                    complaint_change_request(
                        complaint=complaint,
                        kind=ComplaintChangeKind.COMPLEX,
                        reason=data["reason"],
                        by=request.user,
                        request=request,
                    )
                elif action == "extend":
                    complaint_change_request(
                        complaint=complaint,
                        kind=ComplaintChangeKind.EXTENSION,
                        days=data["extension_days"],
                        reason=data["extension_reason"],
                        by=request.user,
                        request=request,
                    )
                elif action == "decide":
                    change = complaint.change_requests.filter(pk=data["change"]).first()
                    if change is None:
                        raise ValidationError(_("该申请不存在。"))
                    complaint_change_decide(
                        change=change, approve=data["approve"], by=request.user, request=request
                    )
                else:
                    complaint_answer(
                        complaint=complaint,
                        upheld=data["upheld"],
                        answer=data["answer"],
                        by=request.user,
                        request=request,
                    )
            except ValidationError as exc:
                _form_errors_to(form, exc)
            else:
                notifications_read_about(key=overdue_key_prefix(complaint), user=request.user)
                messages.success(request, _("已保存。"))
                return redirect("supervision:complaint", pk=complaint.pk)
    return render(
        request,
        "supervision/complaint_detail.html",
        {
            "complaint": complaint,
            "forms": forms,
            "pending": pending,
            "may_decide": bool(decidable),
            "now": timezone.now(),
        },
    )


def _complaint_actions_offered(complaint, user, pending, decidable) -> set[str]:
    """What the page offers ``user`` now: a request only when it can be made (complex when not
    yet complex, an extension once complex and never extended, none already waiting), the
    approval only to a supervisor who may give it, the answer only to the investigator."""
    waiting = {change.kind for change in pending}
    offered = {"assign", "link"}
    if not complaint.is_complex and ComplaintChangeKind.COMPLEX not in waiting:
        offered.add("classify")
    if (
        complaint.is_complex
        and not complaint.extension_days
        and ComplaintChangeKind.EXTENSION not in waiting
    ):
        offered.add("extend")
    if decidable:
        offered.add("decide")
    if _may_answer(complaint, user):
        offered.add("answer")
    return offered


def public_complaint(request):
    """The customers' online form: no login, no CAPTCHA, a rate limit per address and overall."""
    form = PublicComplaintForm(request.POST or None)
    if request.method == "POST":
        if not complaint_form_allowed(client_ip(request)):
            return render(
                request, "supervision/public_complaint.html", {"limited": True}, status=429
            )
        if form.is_valid():
            if form.cleaned_data["website"]:  # the hidden field: a bot
                return render(request, "supervision/public_complaint.html", {"done": True})
            complaint_register(
                source=ComplaintSource.ONLINE,
                text=form.cleaned_data["text"],
                contact_name=form.cleaned_data["contact_name"],
                contact_phone=form.cleaned_data["contact_phone"],
                request=request,
            )
            return render(request, "supervision/public_complaint.html", {"done": True})
    return render(request, "supervision/public_complaint.html", {"form": form})


# --- Training and assessment ---------------------------------------------------------------


@supervisor_only
def training(request):
    action = request.POST.get("action", "")
    attendance_form = AttendanceForm(
        request.POST if action == "attendance" else None, user=request.user
    )
    course_form = CourseForm(request.POST if action == "course" else None, prefix="course")
    if action == "attendance" and attendance_form.is_valid():
        data = attendance_form.cleaned_data
        training_attendance_record(
            course=data["course"],
            agent=data["agent"],
            attended_on=data["attended_on"],
            hours=data["hours"],
            passed=data["passed"],
            by=request.user,
            request=request,
        )
        messages.success(request, _("培训记录已保存。"))
        return redirect("supervision:training")
    if action == "course" and course_form.is_valid():
        course = course_form.save()
        audit(AuditAction.TRAINING_COURSE_CREATE, actor=request.user, obj=course, request=request)
        return redirect("supervision:training")
    attendance = (
        TrainingAttendance.objects.filter(agent__in=staff_ids_visible_to(request.user))
        .select_related("course", "agent")
        .order_by("-attended_on", "-pk")
    )
    page = Paginator(attendance, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "supervision/training.html",
        {
            "attendance_form": attendance_form,
            "course_form": course_form,
            "courses": TrainingCourse.objects.select_related("grants").order_by("name"),
            "page": page,
        },
    )


def _month_param(request) -> dt.date | None:
    form = MonthForm(request.GET or request.POST or None)
    if form.is_valid() and form.cleaned_data.get("month"):
        return form.cleaned_data["month"].replace(day=1)
    return None


@supervisor_only
def assessments(request):
    month = _month_param(request)
    if request.method == "POST":
        if month is None:
            messages.error(request, _("请选择月份。"))
        else:
            try:
                count = assessment_compute(month=month, by=request.user)
            except AssessmentFrozen:
                messages.error(request, _("该月考核已定稿，不能重新计算。"))
            else:
                messages.success(request, _("已计算 %(n)d 名回访人员。") % {"n": count})
        return redirect(f"{request.path}?month={month:%Y-%m}" if month else request.path)
    visible = MonthlyAssessment.objects.filter(agent__in=staff_ids_visible_to(request.user))
    months = list(visible.order_by("-month").values_list("month", flat=True).distinct()[:24])
    month = month or (months[0] if months else timezone.localdate().replace(day=1))
    rows = (
        visible.filter(month=month)
        .select_related("agent")
        .order_by(F("rank").asc(nulls_last=True), "-composite", "agent__username")
    )
    return render(
        request,
        "supervision/assessments.html",
        {"rows": rows, "month": month, "months": months},
    )


# --- Exports -------------------------------------------------------------------------------


@supervisor_only
def export(request, name, fmt):
    if name not in exports.EXPORTS or fmt not in ("csv", "xlsx"):
        return HttpResponseBadRequest(_("未知的导出类型。"))
    form = PeriodForm(request.GET or None)
    if request.GET and not form.is_valid():
        return HttpResponseBadRequest(
            "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items())
        )
    unmasked = request.GET.get("unmasked") == "1"
    if unmasked and not may_reveal_personal_data(request.user):
        raise PermissionDenied
    data = form.cleaned_data if form.is_bound else {}
    queryset = exports.export_queryset(
        name,
        user=request.user,
        since=data.get("since"),
        until=data.get("until"),
        month=_month_param(request),
    )
    audit(
        AuditAction.EXPORT_DOWNLOAD,
        actor=request.user,
        object_type=f"export.{name}",
        after={
            "format": fmt,
            "unmasked": unmasked,
            "since": data.get("since"),
            "until": data.get("until"),
        },
        request=request,
    )
    header = exports.headers(name)
    rows = exports.export_rows(name, queryset, unmasked=unmasked)
    filename = f"{name}-{timezone.localdate():%Y%m%d}.{fmt}"
    if fmt == "csv":
        response = StreamingHttpResponse(
            exports.csv_stream(header, rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    handle = exports.xlsx_file(header, rows, title=exports.sheet_title(name), name=name)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
