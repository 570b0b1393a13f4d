"""SMS channel (SPEC §3): templates, a pluggable gateway, quiet hours, caps, replies.

Sending is two-phase so that a retried or doubled worker never sends a message twice:
1. claim: in a short transaction, lock the message (SKIP LOCKED) and its customer, apply the
   contact rules, and move it ``queued -> sending`` with ``sent_at`` set (caps count it now);
2. send through the backend outside the transaction, then ``sending -> sent`` with a
   conditional UPDATE. A worker that dies between the two leaves the message in ``sending``:
   it is never picked again (better unsent and visible than sent twice).
The backend also receives ``idempotency_key`` so a gateway can drop a repeat on its side.
"""

import json
import logging
import time
import unicodedata
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from accounts.models import ConsentEntry, ConsentKind, Customer
from core.audit import audit
from core.audit_actions import AuditAction
from core.masking import mask_phone
from visits.models import (
    AttemptOutcome,
    Channel,
    ContactAttempt,
    ItemStatus,
    Visit,
    VisitKind,
    VisitRecord,
)
from visits.placeholders import render_placeholders
from workspace.completion import visit_complete
from workspace.models import SmsMessage, SmsStatus, SmsTemplate
from workspace.services import info_change_follow_up

log = logging.getLogger(__name__)

MAX_TRIES = 5
BATCH = 200
COUNTED = (SmsStatus.SENDING, SmsStatus.SENT, SmsStatus.DELIVERED)


class SmsError(Exception):
    """The gateway refused the message for good (bad number, bad content)."""


class SmsRetryableError(SmsError):
    """The gateway could not be reached or answered with a temporary error: try again later."""


# --- Backends -------------------------------------------------------------------------------


class BaseSmsBackend:
    def send(self, message: SmsMessage) -> str:
        """Hand the message to the gateway; return the gateway's message id."""
        raise NotImplementedError


class ConsoleBackend(BaseSmsBackend):
    """Development: prints the message (number masked) to the log."""

    def send(self, message: SmsMessage) -> str:
        gateway_id = f"console-{uuid.uuid4().hex[:20]}"
        log.info("SMS %s to %s: %s", gateway_id, mask_phone(message.customer.mobile), message.body)
        return gateway_id


class OutboxBackend(BaseSmsBackend):
    """The database outbox itself is the delivery: the row stays, marked sent with an id, for a
    separate relay (or a person) to pick up. The default."""

    def send(self, message: SmsMessage) -> str:
        return f"outbox-{uuid.uuid4().hex[:20]}"


class HttpGatewayBackend(BaseSmsBackend):
    """POSTs JSON ``{"to", "body", "client_ref"}`` to CALLBACK["SMS_HTTP_URL"] and expects
    ``{"message_id": ...}``. Timeouts, connection errors and 5xx/429 are retried a few times
    here, then raised as SmsRetryableError for the outbox to try again later."""

    def __init__(self, url: str | None = None, timeout: float | None = None, retries=None):
        self.url = url or settings.CALLBACK["SMS_HTTP_URL"]
        self.timeout = timeout or settings.CALLBACK["SMS_HTTP_TIMEOUT"]
        self.retries = settings.CALLBACK.get("SMS_HTTP_RETRIES", 2) if retries is None else retries

    def _post(self, payload: bytes) -> dict:
        request = urllib.request.Request(
            self.url,
            data=payload,
            headers={"Content-Type": "application/json; charset=utf-8"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            return json.loads(response.read().decode("utf-8") or "{}")

    def send(self, message: SmsMessage) -> str:
        if not self.url:
            raise SmsError("SMS_HTTP_URL is not set")
        payload = json.dumps(
            {
                "to": message.customer.mobile,
                "body": message.body,
                "client_ref": message.idempotency_key,
            },
            ensure_ascii=False,
        ).encode("utf-8")
        last_error = ""
        for attempt in range(self.retries + 1):
            try:
                answer = self._post(payload)
            except urllib.error.HTTPError as exc:
                if exc.code < 500 and exc.code != 429:
                    raise SmsError(f"gateway refused: HTTP {exc.code}") from exc
                last_error = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
                last_error = f"{exc.__class__.__name__}: {exc}"
            else:
                gateway_id = str(answer.get("message_id") or "")
                if not gateway_id:
                    raise SmsRetryableError("gateway answered without message_id")
                return gateway_id
            if attempt < self.retries:
                time.sleep(min(0.2 * 2**attempt, 2.0))
        raise SmsRetryableError(last_error[:300])


def sms_backend() -> BaseSmsBackend:
    return import_string(settings.CALLBACK["SMS_BACKEND"])()


# --- Rules ------------------------------------------------------------------------------------


def in_quiet_hours(moment: datetime) -> bool:
    local = timezone.localtime(moment).time()
    start = settings.CALLBACK["SMS_QUIET_START"]
    end = settings.CALLBACK["SMS_QUIET_END"]
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # the window wraps midnight (21:00-08:00)


def next_send_window(moment: datetime) -> datetime:
    """The first moment at or after ``moment`` outside quiet hours."""
    if not in_quiet_hours(moment):
        return moment
    local = timezone.localtime(moment)
    end = settings.CALLBACK["SMS_QUIET_END"]
    candidate = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate


def _cap_wait(customer_id: int, now: datetime) -> datetime | None:
    """When the customer may next receive a message under the caps, or None if now."""
    local = timezone.localtime(now)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week_start = now - timedelta(days=7)
    sent = list(
        SmsMessage.objects.filter(
            customer_id=customer_id, status__in=COUNTED, sent_at__gt=week_start
        )
        .order_by("sent_at")
        .values_list("sent_at", flat=True)
    )
    if len(sent) >= settings.CALLBACK["SMS_WEEKLY_CAP"]:
        # The oldest counted send leaves the rolling 7-day window.
        index = len(sent) - settings.CALLBACK["SMS_WEEKLY_CAP"]
        return next_send_window(sent[index] + timedelta(days=7, seconds=1))
    today = [t for t in sent if t >= day_start]
    if len(today) >= settings.CALLBACK["SMS_DAILY_CAP"]:
        return next_send_window(day_start + timedelta(days=1))
    return None


def _skip_reason(message: SmsMessage, customer: Customer) -> str:
    security = bool(message.visit_id and message.visit.suspected_fraud)
    if not customer.mobile:
        return "no mobile number"
    if customer.do_not_contact and not security:
        return "do not contact"
    if customer.sms_opt_out and not security:
        return "sms opt-out"
    if message.template_id and message.template.is_marketing and not customer.marketing_consent:
        return "no marketing consent"
    if message.visit_id and not message.visit.is_open:
        return "visit closed"
    return ""


# --- Queueing and sending -----------------------------------------------------------------


def sms_render(template: SmsTemplate, visit: Visit) -> str:
    return render_placeholders(template.body, visit, for_customer=True)


def sms_queue_for_visit(visit: Visit) -> SmsMessage | None:
    """Queue the visit's SMS (SPEC §3 fallback after failed calls). Once per visit and template:
    calling it again returns the same message. None when no active template fits."""
    template = (
        SmsTemplate.objects.filter(is_active=True, is_marketing=False)
        .filter(Q(kind=visit.kind) | Q(kind=""))
        .order_by("-kind", "code")  # the kind's own template before the generic one
        .first()
    )
    if template is None:
        log.warning("no active SMS template for visit kind %s", visit.kind)
        return None
    visit = Visit.objects.select_related("account__customer", "branch").get(pk=visit.pk)
    message, created = SmsMessage.objects.get_or_create(
        idempotency_key=f"visit:{visit.pk}:{template.code}",
        defaults={
            "customer": visit.account.customer,
            "visit": visit,
            "template": template,
            "body": sms_render(template, visit),
            "not_before": next_send_window(timezone.now()),
        },
    )
    if created:
        Visit.objects.open().filter(pk=visit.pk).update(
            channel=Channel.SMS, updated_at=timezone.now()
        )
        audit(
            AuditAction.SMS_QUEUE, obj=message, after={"visit": visit.pk, "template": template.code}
        )
    return message


def _claim(message_id: int, now: datetime) -> SmsMessage | None:
    skip = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        message = (
            SmsMessage.objects.select_for_update(skip_locked=skip, of=("self",))
            .select_related("template", "visit")
            .filter(pk=message_id, status=SmsStatus.QUEUED, not_before__lte=now)
            .first()
        )
        if message is None:
            return None
        # The customer row serialises the cap count and the opt-out check across workers.
        customer = Customer.objects.select_for_update().get(pk=message.customer_id)
        if in_quiet_hours(now):
            message.not_before = next_send_window(now)
            message.save(update_fields=["not_before"])
            return None
        if reason := _skip_reason(message, customer):
            message.status = SmsStatus.SKIPPED
            message.error = reason
            message.save(update_fields=["status", "error"])
            return None
        if wait := _cap_wait(customer.pk, now):
            message.not_before = wait
            message.error = "cap"
            message.save(update_fields=["not_before", "error"])
            return None
        message.status = SmsStatus.SENDING
        message.sent_at = now
        message.tries = F("tries") + 1
        message.save(update_fields=["status", "sent_at", "tries"])
        message.refresh_from_db(fields=["tries"])
        message.customer = customer
        return message


def _deliver(message: SmsMessage, backend: BaseSmsBackend, now: datetime) -> bool:
    try:
        gateway_id = backend.send(message)
    except SmsRetryableError as exc:
        final = message.tries >= MAX_TRIES
        SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.SENDING).update(
            status=SmsStatus.FAILED if final else SmsStatus.QUEUED,
            sent_at=None,
            not_before=next_send_window(now + timedelta(minutes=5 * 2**message.tries)),
            error=str(exc)[:300],
        )
        if final:
            _note_failure(message, str(exc))
        return False
    except SmsError as exc:
        SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.SENDING).update(
            status=SmsStatus.FAILED, sent_at=None, error=str(exc)[:300]
        )
        _note_failure(message, str(exc))
        return False
    # The visit's "SMS sent" attempt is logged when the SMS is queued (the fallback ladder);
    # the outbox row keeps the real send time and status.
    updated = SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.SENDING).update(
        status=SmsStatus.SENT, gateway_message_id=gateway_id[:100], error=""
    )
    return bool(updated)


def _note_failure(message: SmsMessage, error: str) -> None:
    if message.visit_id:
        ContactAttempt.objects.create(
            visit_id=message.visit_id,
            channel=Channel.SMS,
            outcome=AttemptOutcome.SMS_FAILED,
            note=error[:500],
        )


def sms_send_due(now: datetime | None = None, *, backend: BaseSmsBackend | None = None) -> int:
    """Send the queued messages whose time has come. Safe to run in several workers at once.
    Returns how many were sent."""
    now = now or timezone.now()
    backend = backend or sms_backend()
    candidates = list(
        SmsMessage.objects.filter(status=SmsStatus.QUEUED, not_before__lte=now)
        .order_by("not_before", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    sent = 0
    for message_id in candidates:
        message = _claim(message_id, now)
        if message is not None and _deliver(message, backend, now):
            sent += 1
    return sent


# --- Gateway callbacks: delivery reports and replies -------------------------------------------

REPLY_CORRECT = "correct"
REPLY_WRONG = "wrong"
REPLY_OPT_OUT = "opt_out"
# "N" and "T" are not opt-outs: too short to be sure of (a slip, "No", a cut-off "TD").
OPT_OUT_WORDS = {"TD", "退订", "STOP", "UNSUBSCRIBE"}


def sms_reply_parse(text: str) -> str | None:
    """'1' -> correct, '2' -> wrong, 'TD'/'退订'/'STOP'/'UNSUBSCRIBE' -> SMS opt-out; anything
    else -> None. Full-width characters, spaces and trailing punctuation are tolerated
    ('１', ' td。')."""
    cleaned = unicodedata.normalize("NFKC", text or "").strip().upper()
    cleaned = cleaned.strip(" .,!?;:。，！？；：、\"'")
    if cleaned == "1":
        return REPLY_CORRECT
    if cleaned == "2":
        return REPLY_WRONG
    if cleaned in OPT_OUT_WORDS:
        return REPLY_OPT_OUT
    return None


def sms_delivery_report(*, gateway_message_id: str, delivered: bool, error: str = "") -> bool:
    """Record a delivery report; a repeat changes nothing. False if the id is unknown."""
    qs = SmsMessage.objects.filter(gateway_message_id=gateway_message_id)
    if not qs.exists():
        return False
    if delivered:
        qs.filter(status=SmsStatus.SENT).update(
            status=SmsStatus.DELIVERED, delivered_at=timezone.now()
        )
    else:
        qs.filter(status=SmsStatus.SENT).update(status=SmsStatus.FAILED, error=error[:300])
    return True


def customer_sms_opt_out(*, customer: Customer, source: str, note: str = "", by=None) -> None:
    """An SMS opt-out ("TD") takes effect at once: the flag that the sender checks under the
    customer lock, and the ledger entry that proves it. It stops SMS only: phone callbacks go
    on unless the customer is do-not-contact, and marketing consent is not touched (SPEC §4)."""
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if customer.sms_opt_out:
            return  # already opted out: a repeated reply adds nothing to the ledger
        ConsentEntry.objects.create(
            customer=customer,
            kind=ConsentKind.SMS,
            granted=False,
            source=source,
            note=note[:200],
            recorded_by=by,
        )
        Customer.objects.filter(pk=customer.pk).update(sms_opt_out=True, updated_at=timezone.now())
        audit(
            AuditAction.CUSTOMER_OPT_OUT,
            actor=by,
            obj=customer,
            after={"source": source, "channel": "sms"},
        )


def sms_reply_apply(*, message: SmsMessage, text: str) -> str | None:
    """Apply a customer's reply to the message it answers. Returns the parsed meaning.
    A repeated reply (same message) is recorded once and applied once."""
    meaning = sms_reply_parse(text)
    now = timezone.now()
    with transaction.atomic():
        first = SmsMessage.objects.filter(pk=message.pk, replied_at__isnull=True).update(
            reply_text=(text or "")[:200], replied_at=now
        )
        customer = message.customer
        if meaning == REPLY_OPT_OUT:
            # An opt-out always counts, even after an earlier reply to the same message.
            customer_sms_opt_out(customer=customer, source="sms", note=f"SMS: {text[:50]}")
            return meaning
        if not first:
            return meaning
        visit = (
            Visit.objects.open().select_for_update().filter(pk=message.visit_id).first()
            if message.visit_id
            else None
        )
        if visit is None or meaning is None:
            return meaning
        if meaning == REPLY_CORRECT:
            if not VisitRecord.objects.filter(visit=visit).exists():
                record = VisitRecord.objects.create(
                    visit=visit,
                    channel=Channel.SMS,
                    submitted_at=now,
                    mobile_status=ItemStatus.CONFIRMED,
                    answers={"sms_reply": "1"},
                    feedback=gettext("客户短信回复确认信息无误。"),
                    # On a follow-up visit "1" is the customer saying the result is right.
                    resolution_satisfied=True if visit.kind == VisitKind.FOLLOW_UP else None,
                )
                visit_complete(visit=visit, record=record, now=now)
        elif meaning == REPLY_WRONG:
            # Back to the phone with a fresh count: the failed calls before the SMS do not
            # send the visit straight back down the fallback ladder.
            visit.channel = Channel.PHONE
            visit.phone_attempts = 0
            visit.save(update_fields=["channel", "phone_attempts", "updated_at"])
            info_change_follow_up(
                account=visit.account,
                fields=[],
                by=None,
                source="sms",
                extra={"visit": visit.pk, "reply": "2"},
            )
            audit(AuditAction.VISIT_SMS_WRONG, obj=visit, after={"channel": visit.channel})
    return meaning
