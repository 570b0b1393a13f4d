"""The monthly audit sample: reproducible draws of submitted records, by scope."""

from __future__ import annotations

import datetime as dt
import math
import secrets
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import CharField, Count, F, QuerySet, Value, Window
from django.db.models.functions import MD5, Cast, Concat, RowNumber
from django.utils.translation import gettext as _

from accounts.models import Role
from core.audit import audit
from core.audit_actions import AuditAction
from core.config import callback_decimal
from supervision.models import (
    AuditSample,
    AuditSampleItem,
    SampleStatus,
)
from supervision.periods import day_bounds, last_month
from visits.access import records_visible_to
from visits.models import VisitRecord

SCOPE_KEYS = ("branches", "agents", "kinds", "channels")


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
    if size is not None:
        target = size
    elif rate is not None:
        target = math.ceil(total * Decimal(rate))
    else:
        raise ValueError("A sample needs a rate or a size.")
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
        rate = callback_decimal("AUDIT_SAMPLE_RATE")
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
            AuditAction.SAMPLE_DRAW,
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
        audit(AuditAction.SAMPLE_OPEN, actor=by, obj=sample, request=request)


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
