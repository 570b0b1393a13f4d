"""Supervision services (SPEC §5, §8): audit sampling and review, complaints about the callback
work, training, and the monthly assessment with its ranking.

Every write goes through one function here, with keyword-only arguments, in one transaction,
and writes the audit log. Views, tasks and the admin call these and nothing else.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Avg, CharField, Count, F, Q, QuerySet, Value, Window
from django.db.models.functions import MD5, Cast, Concat, RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, StaffCertification
from accounts.permissions import has_role
from core.audit import audit
from supervision.models import (
    AuditReview,
    AuditSample,
    AuditSampleItem,
    Complaint,
    ComplaintStatus,
    CorrectiveAction,
    MonthlyAssessment,
    SampleStatus,
    TrainingAttendance,
)
from visits.access import records_visible_to
from visits.models import AttemptOutcome, ContactAttempt, VisitRecord

SCOPE_KEYS = ("branches", "agents", "kinds", "channels")


def _cfg(key):
    return settings.CALLBACK[key]


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[first 00:00, last+1 00:00) in the project's time zone."""
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start, end


def last_month(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    today = today or timezone.localdate()
    last = today.replace(day=1) - dt.timedelta(days=1)
    return last.replace(day=1), last


# --- Audit sampling --------------------------------------------------------------------------


def _clean_scope(scope: dict | None) -> dict:
    """Keeps the known keys with non-empty lists; ids as ints, codes as strings."""
    clean = {}
    for key in SCOPE_KEYS:
        values = (scope or {}).get(key) or []
        if key in ("branches", "agents"):
            values = sorted({int(v) for v in values})
        else:
            values = sorted({str(v) for v in values})
        if values:
            clean[key] = values
    return clean


def sample_candidates(*, period_start: dt.date, period_end: dt.date, scope: dict, by) -> QuerySet:
    """The records a sample may draw from: submitted in the period, by an agent, inside the
    supervisor's branches and the scope, and never the supervisor's own work."""
    base = records_visible_to(by) if by is not None else VisitRecord.objects.all()
    start, end = day_bounds(period_start, period_end)
    records = base.filter(submitted_at__gte=start, submitted_at__lt=end, submitted_by__isnull=False)
    if by is not None:
        records = records.exclude(submitted_by=by)
    if scope.get("branches"):
        records = records.filter(visit__branch__in=scope["branches"])
    if scope.get("agents"):
        records = records.filter(submitted_by__in=scope["agents"])
    if scope.get("kinds"):
        records = records.filter(visit__kind__in=scope["kinds"])
    if scope.get("channels"):
        records = records.filter(channel__in=scope["channels"])
    return records


def _keyed(records: QuerySet, seed: int) -> QuerySet:
    """Each record's draw key is md5("<seed>:<id>") computed by the database (PostgreSQL has
    md5(); Django registers MD5 on SQLite), so the order is a pure function of the seed and the
    ids. ``agent_draw`` numbers each agent's records in key order: number 1 is that agent's
    guaranteed pick."""
    draw_key = MD5(Concat(Value(f"{seed}:"), Cast("pk", CharField()), output_field=CharField()))
    return records.annotate(draw_key=draw_key).annotate(
        agent_draw=Window(
            RowNumber(),
            partition_by=[F("submitted_by")],
            order_by=[F("draw_key").asc(), F("pk").asc()],
        )
    )


def _target_size(*, total: int, agents: int, rate: Decimal | None, size: int | None) -> int:
    target = size if size is not None else math.ceil(total * Decimal(rate))
    return min(max(target, agents), total)


def sample_pick(
    *, period_start: dt.date, period_end: dt.date, scope: dict, rate, size, seed: int, by
) -> list[tuple[int, int]]:
    """(record id, agent id) pairs of the draw, ordered by record id. Deterministic."""
    records = sample_candidates(
        period_start=period_start, period_end=period_end, scope=scope, by=by
    )
    counts = records.aggregate(total=Count("pk"), agents=Count("submitted_by", distinct=True))
    target = _target_size(total=counts["total"], agents=counts["agents"], rate=rate, size=size)
    if target == 0:
        return []
    keyed = _keyed(records.order_by(), seed)
    firsts = list(keyed.filter(agent_draw=1).values_list("pk", "submitted_by"))
    rest_size = target - len(firsts)
    rest = []
    if rest_size > 0:
        rest = list(
            keyed.filter(agent_draw__gt=1)
            .order_by("draw_key", "pk")
            .values_list("pk", "submitted_by")[:rest_size]
        )
    return sorted(firsts + rest)


def sample_draw(
    *,
    period_start: dt.date | None = None,
    period_end: dt.date | None = None,
    scope: dict | None = None,
    rate=None,
    size: int | None = None,
    seed: int | None = None,
    by,
    scheduled: bool = False,
    request=None,
) -> AuditSample:
    """Draws a reproducible, stratified random sample of a period's records (SPEC §8).

    Default period: last month; default rate: CALLBACK["AUDIT_SAMPLE_RATE"]. Every agent with
    records in scope gets at least one (so the sample may exceed the rate); the rest are the
    lowest draw keys. The seed is stored: ``sample_redraw`` repeats the draw to prove it.
    """
    if period_start is None or period_end is None:
        default_start, default_end = last_month()
        period_start = period_start or default_start
        period_end = period_end or default_end
    errors = {}
    if period_end < period_start:
        errors["period_end"] = _("结束日期不能早于开始日期。")
    if rate is not None and size is not None:
        errors["size"] = _("比例与样本量只能填写一项。")
    if size is not None and size < 1:
        errors["size"] = _("样本量至少为 1。")
    if rate is not None and not (Decimal(0) < Decimal(str(rate)) <= Decimal(1)):
        errors["rate"] = _("抽样比例须大于 0 且不超过 100%。")
    if errors:
        raise ValidationError(errors)
    if rate is None and size is None:
        rate = _cfg("AUDIT_SAMPLE_RATE")
    rate = Decimal(str(rate)) if rate is not None else None
    seed = seed if seed is not None else secrets.randbits(62)
    scope = _clean_scope(scope)
    picked = sample_pick(
        period_start=period_start,
        period_end=period_end,
        scope=scope,
        rate=rate,
        size=size,
        seed=seed,
        by=by,
    )
    with transaction.atomic():
        sample = AuditSample.objects.create(
            period_start=period_start,
            period_end=period_end,
            scope=scope,
            rate=rate,
            size=size,
            seed=seed,
            status=SampleStatus.DRAFT if scheduled else SampleStatus.OPEN,
            created_by=by,
            scheduled=scheduled,
        )
        AuditSampleItem.objects.bulk_create(
            [AuditSampleItem(sample=sample, record_id=pk, agent_id=agent) for pk, agent in picked],
            batch_size=1000,
        )
        audit(
            "sample_draw",
            actor=by,
            obj=sample,
            after={
                "period": [str(period_start), str(period_end)],
                "scope": scope,
                "rate": str(rate) if rate is not None else None,
                "size": size,
                "seed": seed,
                "items": len(picked),
                "scheduled": scheduled,
            },
            request=request,
        )
    return sample


def sample_redraw(sample: AuditSample) -> list[int]:
    """The record ids the stored seed draws today: equal to the sample's when nothing was
    tampered with."""
    return [
        pk
        for pk, _agent in sample_pick(
            period_start=sample.period_start,
            period_end=sample.period_end,
            scope=sample.scope,
            rate=sample.rate,
            size=sample.size,
            seed=sample.seed,
            by=sample.created_by,
        )
    ]


def sample_verify(sample: AuditSample) -> bool:
    stored = sorted(sample.items.values_list("record_id", flat=True))
    return stored == sample_redraw(sample)


def sample_open(*, sample: AuditSample, by, request=None) -> None:
    """A drafted (scheduled) sample goes into review."""
    if sample.created_by_id != by.pk:
        raise ValidationError(_("只能开启自己的抽查样本。"))
    updated = AuditSample.objects.filter(pk=sample.pk, status=SampleStatus.DRAFT).update(
        status=SampleStatus.OPEN
    )
    if updated:
        audit("sample_open", actor=by, obj=sample, request=request)


def samples_with_progress(queryset: QuerySet[AuditSample]) -> QuerySet[AuditSample]:
    return queryset.annotate(
        total=Count("items", distinct=True), reviewed=Count("items__review", distinct=True)
    )


def monthly_samples_draft(*, today: dt.date | None = None) -> int:
    """The beat job of the 1st: one draft sample of last month per active supervisor, in the
    supervisor's branches. Safe to run twice (unique constraint on scheduled samples)."""
    period_start, period_end = last_month(today)
    User = get_user_model()
    drafted = 0
    for supervisor in User.objects.filter(is_active=True, profile__role=Role.SUPERVISOR):
        exists = AuditSample.objects.filter(
            created_by=supervisor,
            period_start=period_start,
            period_end=period_end,
            scheduled=True,
        ).exists()
        if exists:
            continue
        try:
            sample_draw(
                period_start=period_start, period_end=period_end, by=supervisor, scheduled=True
            )
            drafted += 1
        except IntegrityError:  # another worker drafted it first
            continue
    return drafted


# --- Review ----------------------------------------------------------------------------------

CHECKLIST = (
    "record_complete",
    "identity_stated",
    "script_followed",
    "reminders_given",
    "handled_in_time",
    "escalation_justified",
)


class ReviewRefused(ValidationError):
    pass


def review_submit(
    *,
    item: AuditSampleItem,
    reviewer,
    checklist: dict,
    score: int,
    findings: str = "",
    action_due_on: dt.date | None = None,
    request=None,
) -> AuditReview:
    """Reviews one sampled record; final once saved. A finding becomes a corrective action
    for the record's agent, due in CALLBACK["CORRECTIVE_ACTION_DAYS"] days unless given."""
    if not (0 <= int(score) <= 100):
        raise ReviewRefused({"score": _("评分须在 0 到 100 之间。")})
    if reviewer.pk in (item.agent_id, item.record.submitted_by_id):
        raise ReviewRefused(_("不能评审本人的回访记录。"))
    findings = (findings or "").strip()
    today = timezone.localdate()
    due_on = action_due_on or today + dt.timedelta(days=_cfg("CORRECTIVE_ACTION_DAYS"))
    if findings and due_on < today:
        raise ReviewRefused({"action_due_on": _("整改期限不能早于今天。")})
    with transaction.atomic():
        sample = AuditSample.objects.select_for_update().get(pk=item.sample_id)
        if sample.status != SampleStatus.OPEN:
            raise ReviewRefused(_("该样本不在评审中。"))
        if AuditReview.objects.filter(item=item).exists():
            raise ReviewRefused(_("该记录已评审完成，不能修改。"))
        review = AuditReview.objects.create(
            item=item,
            reviewer=reviewer,
            score=int(score),
            findings=findings,
            finished_at=timezone.now(),
            **{name: bool(checklist.get(name)) for name in CHECKLIST},
        )
        action = None
        if findings and item.agent_id:
            action = CorrectiveAction.objects.create(
                review=review, agent_id=item.agent_id, description=findings, due_on=due_on
            )
        if not sample.items.filter(review__isnull=True).exists():
            AuditSample.objects.filter(pk=sample.pk, status=SampleStatus.OPEN).update(
                status=SampleStatus.FINISHED
            )
        audit(
            "audit_review",
            actor=reviewer,
            obj=review,
            after={
                "record": item.record_id,
                "score": review.score,
                **{name: getattr(review, name) for name in CHECKLIST},
                "corrective_action": action.pk if action else None,
            },
            request=request,
        )
    return review


def corrective_action_acknowledge(*, action: CorrectiveAction, by, request=None) -> bool:
    """The agent confirms a corrective action once; False when it was already confirmed."""
    if action.agent_id != by.pk:
        raise ValidationError(_("只能确认本人的整改事项。"))
    now = timezone.now()
    updated = CorrectiveAction.objects.filter(
        pk=action.pk, agent=by, acknowledged_at__isnull=True
    ).update(acknowledged_at=now)
    if updated:
        action.acknowledged_at = now
        audit("corrective_action_acknowledge", actor=by, obj=action, request=request)
    return bool(updated)


# --- Complaints about the callback work --------------------------------------------------------

DECISION_DAYS = 15
COMPLEX_DECISION_DAYS = 30
MAX_EXTENSION_DAYS = 30


def complaint_decision_due(received_at: dt.datetime, *, is_complex: bool, extension_days: int):
    base = COMPLEX_DECISION_DAYS if is_complex else DECISION_DAYS
    return received_at + dt.timedelta(days=base + extension_days)


def complaint_involved_ids(complaint: Complaint) -> set[int]:
    """Who may not investigate: the agent complained about, the visit's agent and the
    record's author, and whoever registered the complaint."""
    ids = {complaint.agent_id, complaint.registered_by_id}
    if complaint.visit_id:
        ids.add(complaint.visit.assigned_to_id)
        record = (
            VisitRecord.objects.filter(visit_id=complaint.visit_id).only("submitted_by").first()
        )
        if record is not None:
            ids.add(record.submitted_by_id)
    return {pk for pk in ids if pk is not None}


def _visit_agent(visit):
    record = VisitRecord.objects.filter(visit=visit).select_related("submitted_by").first()
    if record is not None and record.submitted_by_id:
        return record.submitted_by
    return visit.assigned_to


def complaint_register(
    *,
    source: str,
    text: str,
    by=None,
    received_at: dt.datetime | None = None,
    visit=None,
    agent=None,
    contact_name: str = "",
    contact_phone: str = "",
    is_complex: bool = False,
    request=None,
) -> Complaint:
    """Registers a complaint (staff from the hotline or suggestion box; the public form with
    by=None). Linked to the visit, its customer, branch and agent when known."""
    received_at = received_at or timezone.now()
    if visit is not None and agent is None:
        agent = _visit_agent(visit)
    complaint = Complaint(
        source=source,
        text=text.strip(),
        received_at=received_at,
        visit=visit,
        customer=visit.account.customer if visit is not None else None,
        branch=visit.branch if visit is not None else None,
        agent=agent,
        contact_name=contact_name,
        contact_phone=contact_phone,
        is_complex=is_complex,
        registered_by=by,
        decision_due_at=complaint_decision_due(
            received_at, is_complex=is_complex, extension_days=0
        ),
    )
    with transaction.atomic():
        complaint.save()
        audit(
            "complaint_register",
            actor=by,
            obj=complaint,
            after={
                "source": source,
                "visit": visit.pk if visit is not None else None,
                "agent": agent.pk if agent is not None else None,
                "decision_due_at": complaint.decision_due_at,
            },
            request=request,
        )
    return complaint


def _open_for_update(complaint: Complaint) -> Complaint:
    locked = Complaint.objects.select_for_update().get(pk=complaint.pk)
    if locked.status == ComplaintStatus.ANSWERED:
        raise ValidationError(_("投诉已答复，不能再修改。"))
    return locked


def complaint_link(*, complaint: Complaint, visit=None, agent=None, by, request=None) -> Complaint:
    """Links an (online) complaint to the visit and agent found by the supervisor."""
    with transaction.atomic():
        locked = _open_for_update(complaint)
        if visit is not None:
            locked.visit = visit
            locked.customer = visit.account.customer
            locked.branch = visit.branch
            agent = agent or _visit_agent(visit)
        if agent is not None:
            locked.agent = agent
        if locked.investigator_id and locked.investigator_id in complaint_involved_ids(locked):
            raise ValidationError({"investigator": _("调查人与该投诉有关，请先改派调查人。")})
        locked.save(update_fields=["visit", "customer", "branch", "agent"])
        audit(
            "complaint_link",
            actor=by,
            obj=locked,
            after={"visit": locked.visit_id, "agent": locked.agent_id},
            request=request,
        )
    return locked


def complaint_assign(*, complaint: Complaint, investigator, by, request=None) -> Complaint:
    """Names the investigator: a supervisor not involved in the complaint."""
    if not has_role(investigator, Role.SUPERVISOR):
        raise ValidationError({"investigator": _("调查人须为监督管理人员。")})
    with transaction.atomic():
        locked = _open_for_update(complaint)
        if investigator.pk in complaint_involved_ids(locked):
            raise ValidationError({"investigator": _("调查人不能是被投诉人员、经办人员或登记人。")})
        before = locked.investigator_id
        locked.investigator = investigator
        locked.status = ComplaintStatus.INVESTIGATING
        locked.save(update_fields=["investigator", "status"])
        audit(
            "complaint_assign",
            actor=by,
            obj=locked,
            before={"investigator": before},
            after={"investigator": investigator.pk},
            request=request,
        )
    return locked


def complaint_classify(*, complaint: Complaint, is_complex: bool, by, request=None) -> Complaint:
    """Marks a complaint complex (30 days) or not (15 days); the clock follows."""
    with transaction.atomic():
        locked = _open_for_update(complaint)
        locked.is_complex = is_complex
        locked.decision_due_at = complaint_decision_due(
            locked.received_at, is_complex=is_complex, extension_days=locked.extension_days
        )
        locked.save(update_fields=["is_complex", "decision_due_at"])
        audit(
            "complaint_classify",
            actor=by,
            obj=locked,
            after={"is_complex": is_complex, "decision_due_at": locked.decision_due_at},
            request=request,
        )
    return locked


def complaint_extend(
    *, complaint: Complaint, days: int, reason: str, by, request=None
) -> Complaint:
    """Extends the clock once, by at most 30 days, with the approver and reason recorded."""
    errors = {}
    if not 1 <= int(days) <= MAX_EXTENSION_DAYS:
        errors["extension_days"] = _("延长天数须在 1 到 30 天之间。")
    if not (reason or "").strip():
        errors["extension_reason"] = _("请填写延长理由。")
    if not has_role(by, Role.SUPERVISOR):
        errors["extension_approved_by"] = _("延长须由监督管理人员批准。")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = _open_for_update(complaint)
        if locked.extension_days:
            raise ValidationError({"extension_days": _("答复期限已延长过一次。")})
        if by.pk in complaint_involved_ids(locked):
            raise ValidationError({"extension_approved_by": _("与投诉有关的人员不能批准延长。")})
        locked.extension_days = int(days)
        locked.extension_reason = reason.strip()
        locked.extension_approved_by = by
        locked.decision_due_at = complaint_decision_due(
            locked.received_at, is_complex=locked.is_complex, extension_days=int(days)
        )
        locked.save(
            update_fields=[
                "extension_days",
                "extension_reason",
                "extension_approved_by",
                "decision_due_at",
            ]
        )
        audit(
            "complaint_extend",
            actor=by,
            obj=locked,
            after={"days": int(days), "decision_due_at": locked.decision_due_at},
            request=request,
        )
    return locked


def complaint_answer(
    *, complaint: Complaint, upheld: bool, answer: str, by, request=None
) -> Complaint:
    """The investigator's decision, answered to the customer. Upheld complaints count in the
    agent's monthly assessment (by the month of the answer)."""
    if not (answer or "").strip():
        raise ValidationError({"answer": _("请填写答复内容。")})
    with transaction.atomic():
        locked = _open_for_update(complaint)
        if locked.status != ComplaintStatus.INVESTIGATING or locked.investigator_id != by.pk:
            raise ValidationError(_("只有指定的调查人可以作出答复。"))
        locked.upheld = bool(upheld)
        locked.answer = answer.strip()
        locked.answered_at = timezone.now()
        locked.status = ComplaintStatus.ANSWERED
        locked.save(update_fields=["upheld", "answer", "answered_at", "status"])
        audit(
            "complaint_answer",
            actor=by,
            obj=locked,
            after={
                "upheld": locked.upheld,
                "late": locked.answered_at > locked.decision_due_at,
            },
            request=request,
        )
    return locked


def complaint_form_allowed(ip: str | None) -> bool:
    """CAPTCHA-free rate limit for the public form, on the shared cache: at most N per hour
    from one address and M per hour overall. Counts every attempt, allowed or not."""
    hour = timezone.now().strftime("%Y%m%d%H")
    for key, limit in (
        (f"complaint-form:ip:{ip or '-'}:{hour}", _cfg("COMPLAINT_FORM_PER_IP_HOUR")),
        (f"complaint-form:all:{hour}", _cfg("COMPLAINT_FORM_GLOBAL_HOUR")),
    ):
        cache.add(key, 0, timeout=3600)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=3600)
            count = 1
        if count > limit:
            return False
    return True


# --- Training ------------------------------------------------------------------------------


def training_attendance_record(
    *, course, agent, attended_on: dt.date, hours, passed: bool, by, request=None
) -> TrainingAttendance:
    """Records attendance; a passed course that grants a certification grants it (once)."""
    with transaction.atomic():
        attendance = TrainingAttendance.objects.create(
            course=course, agent=agent, attended_on=attended_on, hours=hours, passed=passed
        )
        granted = False
        if passed and course.grants_id and hasattr(agent, "profile"):
            _, granted = StaffCertification.objects.get_or_create(
                profile=agent.profile,
                certification_id=course.grants_id,
                defaults={"granted_on": attended_on},
            )
        audit(
            "training_record",
            actor=by,
            obj=attendance,
            after={
                "agent": agent.pk,
                "course": course.pk,
                "passed": passed,
                "certification_granted": course.grants_id if granted else None,
            },
            request=request,
        )
    return attendance


# --- Monthly assessment --------------------------------------------------------------------


class AssessmentFrozen(Exception):
    """The month was computed after it ended: its figures are final."""


def _month_bounds(month: dt.date) -> tuple[dt.date, dt.datetime, dt.datetime]:
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    start, end = day_bounds(first, following - dt.timedelta(days=1))
    return first, start, end


STARS = (1, 2, 3, 4, 5)


def satisfaction_lower_bound(counts: dict[int, int], *, z: float) -> float | None:
    """A lower-bound average of 1-5 star ratings (the Bayesian approximation for K-star
    ratings): a Dirichlet posterior with one pseudo-rating per star, scored as its mean minus
    ``z`` standard errors. Few ratings are both pulled toward the middle and uncertain, so
    three 5-star calls (2.94 at z=1.65) do not beat three hundred 4.8-star ones (4.72)."""
    total = sum(counts.get(star, 0) for star in STARS)
    if not total:
        return None
    n = total + len(STARS)
    mean = sum(star * (counts.get(star, 0) + 1) for star in STARS) / n
    second = sum(star * star * (counts.get(star, 0) + 1) for star in STARS) / n
    return mean - z * math.sqrt(max(second - mean * mean, 0.0) / (n + 1))


def composite_score(*, reach_rate, on_time_rate, satisfaction, audit_score, upheld: int):
    """0-100. Weighted mean of the components the agent has (reach and on-time rates,
    satisfaction mapped from 1-5 to 0-1, audit score / 100), renormalised over the weights of
    the present ones, minus the penalty per upheld complaint. None without any component."""
    weights = _cfg("ASSESSMENT_WEIGHTS")
    parts = [
        (weights["reach_rate"], reach_rate),
        (weights["on_time_rate"], on_time_rate),
        (weights["satisfaction"], None if satisfaction is None else (satisfaction - 1) / 4),
        (weights["audit_score"], None if audit_score is None else audit_score / 100),
    ]
    present = [(w, x) for w, x in parts if x is not None and w]
    if not present:
        return None
    base = sum(w * x for w, x in present) / sum(w for w, _x in present)
    score = 100 * base - 100 * weights["upheld_complaint_penalty"] * upheld
    return round(max(score, 0.0), 2)


def competition_ranks(scores: dict[int, float]) -> dict[int, int]:
    """Standard competition ranking ("1224"): equal scores share a rank, the next rank skips."""
    ordered = sorted(scores.values(), reverse=True)
    first_position = {}
    for position, score in enumerate(ordered, start=1):
        first_position.setdefault(score, position)
    return {key: first_position[score] for key, score in scores.items()}


def assessment_figures(*, month: dt.date) -> list[dict]:
    """Per agent: the month's figures, each from a grouped aggregate query (no row loops)."""
    _first, start, end = _month_bounds(month)
    User = get_user_model()
    agents = list(
        User.objects.filter(profile__role=Role.AGENT).order_by("pk").values_list("pk", flat=True)
    )
    attempts = {
        row["agent"]: row
        for row in ContactAttempt.objects.filter(
            agent__in=agents, started_at__gte=start, started_at__lt=end
        )
        .order_by()
        .values("agent")
        .annotate(
            attempted=Count("visit", distinct=True),
            reached=Count("visit", filter=Q(outcome=AttemptOutcome.REACHED), distinct=True),
        )
    }
    month_records = VisitRecord.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
    on_time = Q(visit__completed_at__isnull=False, visit__completed_at__lte=F("visit__due_at")) | Q(
        visit__completed_at__isnull=True, submitted_at__lte=F("visit__due_at")
    )
    records = {
        row["submitted_by"]: row
        for row in month_records.filter(submitted_by__in=agents)
        .order_by()
        .values("submitted_by")
        .annotate(
            completed=Count("pk"),
            on_time=Count("pk", filter=on_time),
            rated=Count("satisfaction"),
            satisfaction_avg=Avg("satisfaction"),
            **{f"stars_{star}": Count("pk", filter=Q(satisfaction=star)) for star in STARS},
        )
    }
    audits = dict(
        AuditReview.objects.filter(
            item__agent__in=agents, finished_at__gte=start, finished_at__lt=end
        )
        .order_by()
        .values("item__agent")
        .annotate(avg=Avg("score"))
        .values_list("item__agent", "avg")
    )
    upheld = dict(
        Complaint.objects.filter(
            agent__in=agents, upheld=True, answered_at__gte=start, answered_at__lt=end
        )
        .order_by()
        .values("agent")
        .annotate(n=Count("pk"))
        .values_list("agent", "n")
    )
    z = float(_cfg("ASSESSMENT_SATISFACTION_Z"))
    figures = []
    for agent_id in agents:
        tried = attempts.get(agent_id, {})
        done = records.get(agent_id, {})
        attempted = tried.get("attempted", 0)
        completed = done.get("completed", 0)
        rated = done.get("rated", 0)
        adjusted = satisfaction_lower_bound(
            {star: done.get(f"stars_{star}", 0) for star in STARS}, z=z
        )
        row = {
            "agent_id": agent_id,
            "visits_completed": completed,
            "visits_attempted": attempted,
            "reach_rate": tried["reached"] / attempted if attempted else None,
            "on_time_rate": done["on_time"] / completed if completed else None,
            "rated_visits": rated,
            "raw_satisfaction": done.get("satisfaction_avg"),
            "adjusted_satisfaction": adjusted,
            "audit_score": audits.get(agent_id),
            "upheld_complaints": upheld.get(agent_id, 0),
        }
        row["composite"] = composite_score(
            reach_rate=row["reach_rate"],
            on_time_rate=row["on_time_rate"],
            satisfaction=adjusted,
            audit_score=row["audit_score"],
            upheld=row["upheld_complaints"],
        )
        figures.append(row)
    return figures


def assessment_compute(*, month: dt.date, now: dt.datetime | None = None, by=None) -> int:
    """Computes (or recomputes) a month's assessment and ranking. A month computed after it
    ended is frozen: recomputing it raises AssessmentFrozen. Agents with fewer than
    CALLBACK["ASSESSMENT_MIN_RATED_VISITS"] rated visits are listed but not ranked; the top
    CALLBACK["ASSESSMENT_REWARD_TOP"] ranks (ties included) are marked for a reward."""
    now = now or timezone.now()
    first, _start, end = _month_bounds(month)
    if MonthlyAssessment.objects.filter(month=first, frozen=True).exists():
        raise AssessmentFrozen(first)
    figures = assessment_figures(month=first)
    minimum = _cfg("ASSESSMENT_MIN_RATED_VISITS")
    eligible = {
        row["agent_id"]: row["composite"]
        for row in figures
        if row["rated_visits"] >= minimum and row["composite"] is not None
    }
    ranks = competition_ranks(eligible)
    top = _cfg("ASSESSMENT_REWARD_TOP")
    frozen = end <= now
    rows = [
        MonthlyAssessment(
            month=first,
            rank=ranks.get(row["agent_id"]),
            rewarded=ranks.get(row["agent_id"], top + 1) <= top,
            frozen=frozen,
            computed_at=now,
            **row,
        )
        for row in figures
    ]
    try:
        with transaction.atomic():
            if (
                MonthlyAssessment.objects.select_for_update()
                .filter(month=first, frozen=True)
                .exists()
            ):
                raise AssessmentFrozen(first)
            MonthlyAssessment.objects.filter(month=first, frozen=False).delete()
            MonthlyAssessment.objects.bulk_create(rows, batch_size=500)
            audit(
                "assessment_compute",
                actor=by,
                object_type="supervision.monthlyassessment",
                object_id=first.isoformat(),
                after={"agents": len(rows), "ranked": len(ranks), "frozen": frozen},
            )
    except IntegrityError as exc:  # another worker computed the month at the same time
        raise AssessmentFrozen(first) from exc
    return len(rows)
