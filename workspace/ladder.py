"""The fallback ladder (SPEC §3), a scheduled job: ``retry_unreached`` moves a visit that the
phone did not reach to SMS, an SMS without an answer to the online questionnaire, and an
expired questionnaire to unreachable, one step per run. Visit generation is in
visits/generation.py, assignment in visits/assignment.py."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext

from core.audit import audit
from core.audit_actions import AuditAction
from core.calendar import business_tz, calling_days
from core.config import callback_int
from visits.models import AttemptOutcome, Channel, ContactAttempt, Visit, VisitStatus
from visits.transitions import visits_transition
from workspace.channels.questionnaire import invite_create
from workspace.channels.sms import sms_queue_for_visit
from workspace.models import SmsMessage, SmsStatus

logger = logging.getLogger(__name__)

# --- Fallback ladder ---------------------------------------------------------------------------

FAILED_PHONE_OUTCOMES = (
    AttemptOutcome.NO_ANSWER,
    AttemptOutcome.BUSY,
    AttemptOutcome.WRONG_NUMBER,
    AttemptOutcome.REFUSED,
)


def _step(
    visit: Visit,
    *,
    to_channel: str,
    function,
    outcome_ok: str,
    outcome_failed: str,
    now: datetime,
) -> bool:
    """Move ``visit`` to the next channel (a conditional UPDATE decides who does it) and start
    that channel through ``function``; record a ContactAttempt unless the channel did."""

    with transaction.atomic():
        moved = (
            Visit.objects.open()
            .filter(pk=visit.pk, channel=visit.channel)
            .update(channel=to_channel, callback_at=None, updated_at=now)
        )
        if not moved:
            return False
        before = visit.channel
        visit.channel = to_channel
        last_attempt = ContactAttempt.objects.aggregate(m=Max("pk"))["m"] or 0
        outcome, note = outcome_ok, ""
        try:
            with transaction.atomic():
                if function(visit) is None:
                    outcome, note = outcome_failed, gettext("渠道未能发出（无可用模板）")
        except Exception as exc:  # a channel failure must not stop the ladder
            logger.exception(
                "fallback channel failed", extra={"visit": visit.pk, "channel": to_channel}
            )
            outcome, note = outcome_failed, str(exc)[:500]
        recorded = ContactAttempt.objects.filter(
            visit=visit, channel=to_channel, pk__gt=last_attempt
        ).exists()
        if outcome == outcome_failed or not recorded:
            ContactAttempt.objects.create(
                visit=visit,
                channel=to_channel,
                started_at=now,
                ended_at=now,
                outcome=outcome,
                note=note,
            )
        audit(
            AuditAction.VISIT_FALL_BACK,
            obj=visit,
            before={"channel": before},
            after={"channel": to_channel, "outcome": outcome},
        )
    return True


def _sms_barred(visit: Visit) -> bool:
    """The customer opted out of SMS ("TD"); like do-not-contact, it yields to suspected fraud."""
    return visit.account.customer.sms_opt_out and not visit.suspected_fraud


def _to_online(visit: Visit, now: datetime) -> bool:
    return _step(
        visit,
        to_channel=Channel.ONLINE,
        function=invite_create,
        outcome_ok=AttemptOutcome.ONLINE_SENT,
        outcome_failed=AttemptOutcome.ONLINE_EXPIRED,
        now=now,
    )


def _to_sms(visit: Visit, now: datetime) -> bool:
    return _step(
        visit,
        to_channel=Channel.SMS,
        function=sms_queue_for_visit,
        outcome_ok=AttemptOutcome.SMS_SENT,
        outcome_failed=AttemptOutcome.SMS_FAILED,
        now=now,
    )


def _unreachable_reason(visit: Visit) -> str:
    lines = []
    for attempt in visit.attempts.all():
        if attempt.outcome in (AttemptOutcome.REACHED, AttemptOutcome.CALLBACK):
            continue
        when = timezone.localtime(attempt.started_at, business_tz()).strftime("%Y-%m-%d %H:%M")
        line = f"{when} {attempt.get_channel_display()}：{attempt.get_outcome_display()}"
        lines.append(f"{line}（{attempt.note}）" if attempt.note else line)
    return "\n".join(lines)


def retry_unreached(*, now: datetime | None = None) -> dict:
    """SPEC §3 fallback ladder. A phone visit with failed attempts on PHONE_ATTEMPTS different
    calendar days (calls are allowed every day) and no pending call-back moves to SMS (straight
    to the questionnaire when the customer opted out of SMS); an SMS that failed, or got no
    answer within SMS_REPLY_DAYS of being sent, moves to the online questionnaire; a
    questionnaire that expired unanswered makes the visit unreachable, with the reason of each
    failure. A visit moves at most one step per run: the failures that move it must predate
    the run."""

    now = now or timezone.now()
    counts = {"to_sms": 0, "to_online": 0, "unreachable": 0}
    needed = callback_int("PHONE_ATTEMPTS")

    # 1. phone -> SMS
    phone_visits = (
        Visit.objects.open()
        .filter(channel=Channel.PHONE, phone_attempts__gte=needed)
        .filter(Q(callback_at__isnull=True) | Q(callback_at__lte=now))
        .exclude(
            Exists(
                ContactAttempt.objects.filter(visit=OuterRef("pk"), outcome=AttemptOutcome.REACHED)
            )
        )
        .order_by("pk")
    )
    for chunk in _chunks(phone_visits.values_list("pk", flat=True).iterator(), 500):
        # Only the phone failures since the visit last came back to the phone (after an SMS
        # or questionnaire step) count towards leaving it again.
        back_on_phone = dict(
            ContactAttempt.objects.filter(visit_id__in=chunk)
            .exclude(channel=Channel.PHONE)
            .values_list("visit_id")
            .annotate(at=Max("started_at"))
        )
        failures = defaultdict(list)
        for visit_id, started_at in ContactAttempt.objects.filter(
            visit_id__in=chunk, channel=Channel.PHONE, outcome__in=FAILED_PHONE_OUTCOMES
        ).values_list("visit_id", "started_at"):
            if visit_id not in back_on_phone or started_at > back_on_phone[visit_id]:
                failures[visit_id].append(started_at)
        # Different days are calendar days on which calls are allowed: every day (SPEC §4).
        ready = [pk for pk in chunk if len(calling_days(failures[pk])) >= needed]
        for visit in Visit.objects.filter(pk__in=ready).select_related("account__customer"):
            if _sms_barred(visit):
                # The customer replied "TD": no SMS, straight on to the questionnaire.
                if _to_online(visit, now):
                    counts["to_online"] += 1
            elif _to_sms(visit, now):
                counts["to_sms"] += 1

    # 2. SMS -> online questionnaire. The wait for a reply starts when the SMS is sent: one
    # held back by quiet hours or the caps has not started it yet (SPEC §4).
    reply_cutoff = now - timedelta(days=callback_int("SMS_REPLY_DAYS"))
    sms_attempts = ContactAttempt.objects.filter(visit=OuterRef("pk"), channel=Channel.SMS)
    messages = SmsMessage.objects.filter(visit=OuterRef("pk"))
    sms_visits = (
        Visit.objects.open()
        .filter(channel=Channel.SMS)
        .filter(
            Exists(sms_attempts.filter(outcome=AttemptOutcome.SMS_FAILED, started_at__lt=now))
            | Exists(
                messages.filter(
                    status__in=[SmsStatus.FAILED, SmsStatus.SKIPPED], created_at__lt=now
                )
            )
            | Exists(messages.filter(sent_at__isnull=False, sent_at__lte=reply_cutoff))
            | Q(account__customer__sms_opt_out=True, suspected_fraud=False)
        )
        .select_related("account__customer")
        .order_by("pk")
    )
    for visit in sms_visits.iterator(chunk_size=500):
        if _to_online(visit, now):
            counts["to_online"] += 1

    # 3. online -> unreachable
    link_cutoff = now - timedelta(days=callback_int("QUESTIONNAIRE_LINK_DAYS"))
    online_attempts = ContactAttempt.objects.filter(visit=OuterRef("pk"), channel=Channel.ONLINE)
    online_visits = (
        Visit.objects.open()
        .filter(channel=Channel.ONLINE)
        .filter(
            Exists(
                online_attempts.filter(outcome=AttemptOutcome.ONLINE_EXPIRED, started_at__lt=now)
            )
            | (
                Exists(online_attempts)
                & ~Exists(online_attempts.filter(started_at__gt=link_cutoff))
            )
        )
        .order_by("pk")
    )
    for visit in online_visits.iterator(chunk_size=500):
        with transaction.atomic():
            reason = _unreachable_reason(visit)
            done = visits_transition(
                Visit.objects.open().filter(pk=visit.pk, channel=Channel.ONLINE),
                to=VisitStatus.UNREACHABLE,
                reason=reason,
                now=now,
            )
            if done:
                audit(
                    AuditAction.VISIT_GIVE_UP,
                    obj=visit,
                    before={"status": visit.status},
                    after={"status": VisitStatus.UNREACHABLE},
                )
                counts["unreachable"] += 1
    logger.info("retry_unreached done", extra=counts)
    return counts


def _chunks(iterable, size):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
