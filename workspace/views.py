"""The agent workspace: worklist, call screen, attempts, the record; the SMS gateway callback
and the public questionnaire."""

import hmac
import json
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.models import ConsentEntry, Role
from accounts.permissions import (
    branches_visible_to,
    has_role,
    may_reveal_personal_data,
    role_required,
)
from accounts.pii import RevealLimitReached, reveal_count_hour, reveal_fields
from core.masking import mask_address, mask_name
from escalations.actions import EscalationError
from escalations.models import Escalation, EscalationStep
from visits.access import visit_for_user, visits_visible_to
from visits.models import (
    AttemptOutcome,
    Script,
    Visit,
    VisitPolicy,
    VisitRecord,
    VisitTrigger,
)
from visits.placeholders import render_placeholders
from workspace.channels import questionnaire as q
from workspace.channels import sms
from workspace.drafts import (
    draft_data_from_post,
    draft_initial,
    pending_record_keep,
    pending_record_take,
    record_draft_discard,
    record_draft_of,
    record_draft_save,
)
from workspace.forms import AttemptForm, QuestionnaireForm, RecordForm, WorklistFilterForm
from workspace.models import SmsMessage
from workspace.services import (
    WorkspaceError,
    attempt_log,
    calling_hours_now,
    flagged_events_of,
    last_phone_attempt_reached,
    record_submit,
    visit_claim_next,
    visit_is_security_critical,
)
from workspace.worklist import WorklistVisit, appointment_rows, worklist_rows
from workspace.worklist_sql import (
    PageSource,
    WorklistFilter,
    worklist_appointments,
    worklist_counts,
    worklist_page,
)

PAGE_SIZE = 50
# A call-back appointment joins the worklist this long before its time; until then it waits
# in the "appointments" block, sorted by time.
APPOINTMENT_LEAD = timedelta(minutes=15)


@role_required(Role.AGENT, Role.SUPERVISOR)
def worklist(request):
    """The agent's open visits: call-backs whose time has come, then overdue, then by priority
    and due time. The number of queries does not depend on the data (see the test); the
    statements are in workspace/worklist_sql.py."""
    now = timezone.now()
    branches = list(branches_visible_to(request.user))
    filters = WorklistFilterForm(request.GET or None, branches=branches)
    # The branches in scope, loaded once above for the filter, as ids: the scope of
    # visits_visible_to without a permission subquery in every statement.
    narrowed = filters.cleaned_data if filters.is_valid() else {}
    scope = WorklistFilter(
        agent_id=request.user.pk,
        branch_ids=[b.pk for b in branches],
        kind=narrowed.get("kind") or "",
        status=narrowed.get("status") or "",
        branch_id=int(narrowed["branch"]) if narrowed.get("branch") else None,
    )
    appointment_from = now + APPOINTMENT_LEAD
    local_now = timezone.localtime(now)
    end_of_day = local_now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    counts = worklist_counts(scope, now=now, listed_until=appointment_from, end_of_day=end_of_day)
    paginator = Paginator(
        PageSource(
            counts["listed"],
            lambda offset, limit: worklist_page(
                scope, now=now, listed_until=appointment_from, offset=offset, limit=limit
            ),
        ),
        PAGE_SIZE,
    )
    page = paginator.get_page(request.GET.get("page"))
    # The appointments are the open visits not listed (a call-back later than the lead time):
    # counted above, and read only when there are some.
    appointments: list[WorklistVisit] = []
    if counts["open"] > counts["listed"]:
        appointments = worklist_appointments(scope, listed_until=appointment_from)
    query = request.GET.copy()
    query.pop("page", None)
    near = now + timedelta(hours=2)
    return render(
        request,
        "visits/worklist.html",
        {
            "page": page,
            "rows": worklist_rows(page, now=now, near=near),
            "appointments": appointments,
            "appointment_rows": appointment_rows(appointments),
            "counts": counts,
            "filters": filters,
            "now": now,
            "near": near,
            "query": query.urlencode(),
        },
    )


@require_POST
@role_required(Role.AGENT)
def claim_next(request):
    visit = visit_claim_next(agent=request.user)
    if visit is None:
        messages.info(request, _("暂无可领取的回访。"))
        return redirect("workspace:worklist")
    return redirect("workspace:call_screen", pk=visit.pk)


def script_for(visit: Visit) -> Script | None:
    if visit.policy_id and visit.policy.script_id and visit.policy.script.is_active:
        return visit.policy.script
    scripts = Script.objects.filter(kind=visit.kind, is_active=True).order_by("-version")
    language = get_language() or settings.LANGUAGE_CODE
    return scripts.filter(language=language).first() or scripts.first()


def script_text(script: Script | None, visit: Visit, agent) -> str:
    return render_placeholders(script.body, visit, agent=agent) if script else ""


def _may_act(user, visit: Visit) -> bool:
    return has_role(user, Role.AGENT) and visit.is_open and visit.assigned_to_id in (None, user.pk)


def _record_form(visit, flagged, data=None):
    return RecordForm(
        data,
        visit=visit,
        flagged_events=flagged,
        marketing_consent=visit.account.customer.marketing_consent,
        prefix="r",
    )


def _call_screen_context(request, visit, *, attempt_form=None, record_form=None) -> dict:
    customer = visit.account.customer
    # A visit no event triggered (the screen's visit query says so) links no transaction: the
    # lookup, which spans every partition of the events table, is not made for it.
    flagged = flagged_events_of(visit) if _has(visit, "has_triggers") else []
    record = (
        VisitRecord.objects.filter(visit=visit)
        .select_related("submitted_by")
        .prefetch_related("transaction_checks__event")
        .first()
        if _has(visit, "has_record")
        else None
    )
    may_act = _may_act(request.user, visit)
    # The attempts are listed on the screen; whether the last phone attempt reached the
    # customer is read from the same list (no second query).
    attempts = list(visit.attempts.select_related("agent").order_by("started_at", "pk"))
    reached = last_phone_attempt_reached(attempts)
    draft = None
    # The record form opens once the customer is reached (a form refused for lack of a reached
    # attempt comes back bound, with its error).
    if record_form is None and may_act and record is None and reached:
        record_form = _record_form(visit, flagged)
        draft = record_draft_of(visit=visit, agent=request.user)
        if draft is not None:
            record_form.initial = draft_initial(record_form, draft.data)
    script = script_for(visit)
    return {
        "visit": visit,
        "customer": customer,
        "account": visit.account,
        "masked": {
            "name": customer.name,
            "mobile": customer.masked_mobile,
            "landline": customer.masked_landline,
            "id_number": customer.masked_id_number,
            "address": mask_address(customer.address),
            "account": visit.account.masked_number,
            "email": customer.email,
        },
        "may_reveal": may_reveal_personal_data(request.user),
        # Only what the list shows of them (a record has some thirty columns).
        "previous": Visit.objects.filter(account_id=visit.account_id)
        .exclude(pk=visit.pk)
        .select_related("record")
        .only(*PREVIOUS_FIELDS)
        .order_by("-created_at")[:10],
        "flagged": flagged,
        "script": script,
        "script_text": script_text(script, visit, request.user),
        "rules": {
            "calling_hours": calling_hours_now(),
            "hours": (
                settings.CALLBACK["CALLING_HOURS_START"],
                settings.CALLBACK["CALLING_HOURS_END"],
            ),
            "do_not_contact": customer.do_not_contact,
            "security_critical": visit_is_security_critical(visit),
            "marketing_consent": customer.marketing_consent,
        },
        "consents": (
            customer.consents.select_related("recorded_by")[:20]
            if _has(visit, "has_consents")
            else []
        ),
        "steps": (
            EscalationStep.objects.filter(
                Q(escalation__visit=visit) | Q(escalation__follow_up_visit=visit)
            )
            .select_related("escalation__department", "by")
            .order_by("at", "pk")
            if _has(visit, "has_escalations")
            else []
        ),
        "attempts": attempts,
        "sms_messages": (
            SmsMessage.objects.filter(visit=visit).order_by("created_at")
            if _has(visit, "has_sms")
            else []
        ),
        "record": record,
        "may_act": may_act,
        "reached": reached,
        "attempt_form": attempt_form or (AttemptForm(prefix="a") if may_act else None),
        "record_form": record_form,
        "draft": draft,
    }


PREVIOUS_FIELDS = (
    "id", "kind", "status", "completed_at", "record__id", "record__channel",
    "record__satisfaction", "record__handling", "record__feedback",
)  # fmt: skip


def _screen_queryset(visits: QuerySet[Visit]) -> QuerySet[Visit]:
    """The visit with its account, customer and branch, and whether it has any of the things
    the screen shows that most visits have none of: triggering events, a record (an open
    visit has none), escalations, SMS messages, consent entries of the customer. A list is
    read only when there is something to list (``_has``); each flag is one index probe in
    this statement, where a query of its own cost the page a round trip and its planning.

    The policy (with its script), the rule and the assigned agent are read by
    ``_screen_related`` only when the visit has them: joined here, these four optional
    tables doubled the statement's planning time (about 1.5 ms of the screen's), for
    rows that are often absent and are one primary-key read each when present."""
    return visits.select_related("account__customer", "branch").annotate(
        has_triggers=Exists(VisitTrigger.objects.filter(visit=OuterRef("pk"))),
        has_record=Exists(VisitRecord.objects.filter(visit=OuterRef("pk"))),
        has_escalations=Exists(
            Escalation.objects.filter(Q(visit=OuterRef("pk")) | Q(follow_up_visit=OuterRef("pk")))
        ),
        has_sms=Exists(SmsMessage.objects.filter(visit=OuterRef("pk"))),
        has_consents=Exists(ConsentEntry.objects.filter(customer=OuterRef("account__customer_id"))),
    )


def _has(visit: Visit, flag: str) -> bool:
    """A flag of ``_screen_queryset``; a visit loaded otherwise may have anything."""
    return getattr(visit, flag, True)


def _screen_related(visit: Visit, user) -> Visit:
    if visit.assigned_to_id is not None and visit.assigned_to_id == user.pk:
        visit.assigned_to = user
    if visit.policy_id is not None:
        visit.policy = VisitPolicy.objects.select_related("script").get(pk=visit.policy_id)
    return visit


def _screen_visit(pk, user) -> Visit:
    """The visit with everything the call screen shows of it (scope checked by the caller)."""
    return _screen_related(_screen_queryset(Visit.objects.all()).get(pk=pk), user)


@role_required(Role.AGENT, Role.SUPERVISOR)
def call_screen(request, pk):
    # In scope, or 404.
    visit = _screen_related(
        get_object_or_404(_screen_queryset(visits_visible_to(request.user)), pk=pk), request.user
    )
    pending = pending_record_take(request.session, visit_pk=visit.pk)
    if pending and _may_act(request.user, visit):
        # A record posted after the session had expired: it becomes this agent's draft.
        record_draft_save(visit=visit, agent=request.user, data=pending)
        messages.warning(request, _("登录已过期，您填写的内容已保存为草稿，请核对后重新提交。"))
    return render(request, "visits/call_screen.html", _call_screen_context(request, visit))


def _keeps_record_without_session(view):
    """A record form posted after the session expired is kept in the new session and the
    agent is sent to sign in; afterwards the call screen offers it back as their draft."""

    @wraps(view)
    def wrapped(request, pk, *args, **kwargs):
        if request.method == "POST" and not request.user.is_authenticated:
            pending_record_keep(request.session, visit_pk=pk, post=request.POST)
            if request.htmx:
                response = HttpResponse(status=204)
                response["HX-Trigger"] = "session-expired"
                return response
            return redirect_to_login(reverse("workspace:call_screen", args=[pk]))
        if request.method != "POST":
            return redirect("workspace:call_screen", pk=pk)
        return view(request, pk, *args, **kwargs)

    return wrapped


@_keeps_record_without_session
@role_required(Role.AGENT)
def record_draft(request, pk):
    """Autosave of the record form (htmx, as the agent types)."""
    visit = visit_for_user(request.user, pk)
    if not _may_act(request.user, visit) or VisitRecord.objects.filter(visit=visit).exists():
        return HttpResponse(status=204)
    draft = record_draft_save(
        visit=visit, agent=request.user, data=draft_data_from_post(request.POST)
    )
    saved_at = timezone.localtime(draft.updated_at).strftime("%H:%M:%S")
    return HttpResponse(_("草稿已保存 %(time)s") % {"time": saved_at})


@require_POST
@role_required(Role.AGENT, Role.SUPERVISOR, Role.TELLER)
def reveal(request, pk):
    """Show one customer's personal data in full; every reveal is audit-logged."""
    visit = visit_for_user(request.user, pk)
    if not may_reveal_personal_data(request.user):
        return HttpResponse(status=403)
    # An agent sees the full data of its own visits only; anyone else states why.
    own = visit.assigned_to_id == request.user.pk
    if has_role(request.user, Role.AGENT) and not own:
        raise Http404
    reason = request.POST.get("reason", "").strip()[:200]
    if not own and not reason:
        return HttpResponse(_("请说明查看完整信息的原因。"), status=400)
    try:
        reveal_count_hour(request.user)
    except RevealLimitReached:
        return HttpResponse(_("本小时查看完整信息的次数已达上限。"), status=429)
    customer = visit.account.customer
    context = {"visit": visit.pk, **({"reason": reason} if reason else {})}
    reveal_fields(user=request.user, customer=customer, request=request, context=context)
    return render(
        request,
        "visits/call_screen_pii.html",
        {"customer": customer, "account": visit.account, "revealed": True},
    )


@require_POST
@role_required(Role.AGENT)
def attempt(request, pk):
    visit = visit_for_user(request.user, pk)
    form = AttemptForm(request.POST, prefix="a")
    if form.is_valid():
        try:
            attempt_log(
                visit=visit,
                agent=request.user,
                outcome=form.cleaned_data["outcome"],
                callback_at=form.cleaned_data.get("callback_at"),
                note=form.cleaned_data.get("note", ""),
            )
        except WorkspaceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            if not request.htmx:
                return redirect("workspace:call_screen", pk=visit.pk)
            if form.cleaned_data["outcome"] == AttemptOutcome.REACHED:
                # The answer to a reached attempt carries the record form itself: the attempt
                # form swaps in #attempts (hx-select) and the now open #record section
                # (hx-select-oob) from the call screen, so the form appears exactly when the
                # reached attempt is stored.
                return render(
                    request,
                    "visits/call_screen.html",
                    _call_screen_context(request, _screen_visit(visit.pk, request.user)),
                )
            form = AttemptForm(prefix="a")
    visit.refresh_from_db()
    context = {
        "visit": visit,
        "attempts": visit.attempts.select_related("agent").order_by("started_at", "pk"),
        "attempt_form": form,
        "may_act": _may_act(request.user, visit),
    }
    if request.htmx:
        return render(request, "visits/call_screen_attempts.html", context)
    return render(
        request,
        "visits/call_screen.html",
        _call_screen_context(request, visit, attempt_form=form),
        status=400,
    )


ERROR_FIELDS = {
    "words": "resolution_words",
    "department": "escalate_department",
    "urgency": "escalate_urgency",
    "description": "problem",
    "transactions": None,
}


@_keeps_record_without_session
@role_required(Role.AGENT)
def record(request, pk):
    visit = visit_for_user(request.user, pk)
    visit = Visit.objects.select_related("account__customer", "branch", "policy__script").get(
        pk=visit.pk
    )
    if hasattr(visit, "record") or VisitRecord.objects.filter(visit=visit).exists():
        messages.error(request, _("该回访已提交记录，记录不可修改。"))
        return redirect("workspace:call_screen", pk=visit.pk)
    form = _record_form(visit, flagged_events_of(visit), request.POST)
    record_draft_save(visit=visit, agent=request.user, data=draft_data_from_post(request.POST))
    if form.is_valid():
        data, checks = form.service_data()
        try:
            record_submit(visit=visit, agent=request.user, data=data, transaction_checks=checks)
        except (WorkspaceError, EscalationError) as exc:
            field = ERROR_FIELDS.get(exc.field, exc.field)
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            record_draft_discard(visit=visit, agent=request.user)
            messages.success(request, _("回访 #%(pk)s 已完成。") % {"pk": visit.pk})
            return redirect("workspace:worklist")
    return render(
        request,
        "visits/call_screen.html",
        _call_screen_context(request, visit, record_form=form),
        status=400,
    )


# --- SMS gateway callback -----------------------------------------------------------------------


def _bad(field: str, message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({field: [message]}, status=status)


@csrf_exempt
@require_POST
def sms_callback(request):
    """Delivery reports and replies from the SMS gateway. Authenticated by the shared secret in
    the ``X-Callback-Token`` header (CALLBACK["SMS_CALLBACK_TOKEN"]; empty refuses everything).

    Body: ``{"type": "delivery", "message_id": ..., "status": "delivered"|"failed"}`` or
    ``{"type": "reply", "message_id": ..., "text": "1"}``."""
    expected = settings.CALLBACK.get("SMS_CALLBACK_TOKEN", "")
    given = request.headers.get("X-Callback-Token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return JsonResponse({"detail": "bad token"}, status=401)
    try:
        body = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _bad("non_field_errors", "body must be JSON")
    if not isinstance(body, dict):
        return _bad("non_field_errors", "body must be a JSON object")
    kind = body.get("type")
    message_id = body.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        return _bad("message_id", "required")
    if kind == "delivery":
        status = body.get("status")
        if status not in ("delivered", "failed"):
            return _bad("status", "must be delivered or failed")
        known = sms.sms_delivery_report(
            gateway_message_id=message_id,
            delivered=status == "delivered",
            error=str(body.get("error", ""))[:300],
        )
        if not known:
            return _bad("message_id", "unknown", status=404)
        return JsonResponse({"ok": True})
    if kind == "reply":
        text = body.get("text")
        if not isinstance(text, str):
            return _bad("text", "required")
        message = (
            SmsMessage.objects.select_related("customer", "visit")
            .filter(gateway_message_id=message_id)
            .first()
        )
        if message is None:
            return _bad("message_id", "unknown", status=404)
        meaning = sms.sms_reply_apply(message=message, text=text)
        return JsonResponse({"ok": True, "meaning": meaning})
    return _bad("type", "must be delivery or reply")


# --- Public online questionnaire ----------------------------------------------------------------


def questionnaire(request, token):
    """The customer's page: no login, masked data only, mobile-friendly."""
    try:
        invite = q.invite_from_token(token)
    except q.InviteError as exc:
        return render(request, "public/questionnaire_invalid.html", {"reason": exc}, status=410)
    visit = invite.visit
    questions = q.questions_for(visit)
    form = QuestionnaireForm(request.POST or None, questions=questions)
    if request.method == "POST" and form.is_valid():
        try:
            q.questionnaire_submit(invite=invite, answers=form.cleaned_data)
        except q.InviteError as exc:
            return render(request, "public/questionnaire_invalid.html", {"reason": exc}, status=410)
        return render(request, "public/questionnaire_done.html", {})
    customer = visit.account.customer
    return render(
        request,
        "public/questionnaire.html",
        {
            "form": form,
            "bank_name": settings.CALLBACK["BANK_NAME"],
            "masked_name": mask_name(customer.name),
            "masked_mobile": customer.masked_mobile,
            "masked_account": visit.account.masked_number,
            "visit": visit,
        },
        status=400 if request.method == "POST" else 200,
    )
