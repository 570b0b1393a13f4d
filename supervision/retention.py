"""Retention and destruction (SPEC §6): one table says how long every model is kept.

Rules:
- ``cdd``: records of the business relationship and of customer due diligence (visits, records,
  events, consents, escalations, SMS, complaints, the customer and account rows). Kept
  ``RETENTION_RECORD_YEARS`` (default 10, the floor of the revised Anti-Money-Laundering Law in
  force 2025-01-01) after ``Customer.relationship_ended_on``; a customer with no end date is
  kept. Destroyed by irreversible anonymisation: the rows stay for counts and statistics, every
  personal value and free text is overwritten (a ciphertext with a new random value would
  still be reversible with the key, so values are emptied, not re-encrypted).
- ``audit_log``: ``RETENTION_AUDIT_LOG_MONTHS`` (at least 6); the oldest entries are deleted and
  the certificate keeps the hash where the chain now starts.
- ``notification``: in-app notifications, ``RETENTION_NOTIFICATION_DAYS``; deleted.
- ``own_job``: rows with a short window of their own, deleted by their own scheduled job (the
  note names the setting and the job): idempotency keys, record-form drafts.
- ``forever``: reference data, configuration (needed to explain old records), staff records
  that hold no customer data, and the destruction lists and certificates themselves.

A legal hold on a customer or any of its accounts stops destruction of everything of it, the
audit-log entries about it included (they stay in place; the certificate records where the chain
skips the destroyed entries around them), checked when the list is drawn up and again when it is
executed. A list drafted by the system (no author) needs two different people: one approves it,
another executes it.
"""

import datetime as dt
import hashlib
import operator
from dataclasses import dataclass
from functools import reduce

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import CharField, Exists, Max, OuterRef, Q
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account, AccountEvent, ConsentEntry, Customer, Role
from accounts.permissions import has_role
from core.audit import audit
from core.audit_actions import AuditAction
from core.config import callback_int
from core.crypto import blind_index
from core.models import AuditLogEntry, Notification
from escalations.models import Escalation, EscalationStep
from supervision.immutability import retention_procedure
from supervision.models import (
    Complaint,
    ComplaintChangeRequest,
    DestructionCertificate,
    DestructionList,
    DestructionListItem,
    DestructionStatus,
)
from visits.models import ContactAttempt, RecordAmendment, Visit, VisitRecord
from workspace.models import QuestionnaireInvite, SmsMessage


@dataclass(frozen=True)
class Rule:
    kind: str  # cdd | audit_log | notification | own_job | forever
    note: str = ""


CDD = Rule("cdd", "N years after the business relationship ends; anonymised")
FOREVER = Rule("forever")

RETENTION_RULES: dict[str, Rule] = {
    # accounts
    "accounts.branch": Rule("forever", "reference data"),
    "accounts.department": Rule("forever", "reference data"),
    "accounts.certification": Rule("forever", "reference data"),
    "accounts.staffprofile": Rule("forever", "staff record, no customer data"),
    "accounts.staffcertification": Rule("forever", "staff record, no customer data"),
    "accounts.passwordhistory": Rule("forever", "the last 5 password hashes of a user, no more"),
    "core.serviceclient": Rule("forever", "API client, key stored hashed"),
    "accounts.customer": CDD,
    "accounts.account": CDD,
    "accounts.accountevent": CDD,
    "accounts.eventkey": Rule(
        "own_job",
        "idempotency key, no personal data: EVENT_KEY_DAYS, then deleted by "
        "visits.tasks.event_store_maintain_task",
    ),
    "accounts.consententry": CDD,
    # visits
    "core.calendaryear": Rule("forever", "reference data"),
    "core.calendarday": Rule("forever", "reference data"),
    "visits.script": Rule("forever", "versioned configuration explaining old records"),
    "visits.visitpolicy": Rule("forever", "versioned configuration explaining old records"),
    "visits.eventrule": Rule("forever", "versioned configuration explaining old records"),
    "visits.currencyrate": Rule("forever", "reference rates: configuration, no personal data"),
    "workspace.smstemplate": Rule("forever", "configuration"),
    "workspace.questionnairequestion": Rule("forever", "configuration"),
    "visits.visit": CDD,
    "visits.visittrigger": CDD,
    "visits.contactattempt": CDD,
    "visits.visitrecord": CDD,
    "visits.transactioncheck": CDD,
    "visits.recordamendment": CDD,
    "escalations.escalation": CDD,
    "escalations.escalationstep": CDD,
    "workspace.smsmessage": CDD,
    "workspace.questionnaireinvite": CDD,
    "workspace.recorddraft": Rule(
        "own_job",
        "scratch of the record form: deleted when the record is submitted, once the visit is "
        "closed, or RETENTION_DRAFT_DAYS after its last change, by "
        "workspace.tasks.record_drafts_purge_task",
    ),
    "core.notification": Rule("notification", "RETENTION_NOTIFICATION_DAYS; deleted"),
    # supervision
    "supervision.auditsample": Rule("forever", "quality record of staff work, no customer data"),
    "supervision.auditsampleitem": Rule("forever", "quality record of staff work"),
    "supervision.auditreview": Rule("forever", "quality record of staff work"),
    "supervision.correctiveaction": Rule("forever", "quality record of staff work"),
    "supervision.complaint": CDD,
    "supervision.complaintchangerequest": CDD,
    "supervision.trainingcourse": Rule("forever", "staff record"),
    "supervision.trainingattendance": Rule("forever", "staff record"),
    "supervision.monthlyassessment": Rule("forever", "staff record"),
    "supervision.visitdayrollup": Rule("forever", "counts derived from visits, no personal data"),
    "supervision.activitydayrollup": Rule(
        "forever", "counts derived from attempts and records, no personal data"
    ),
    "supervision.activityvisitday": Rule(
        "own_job",
        "per-visit figures of the current day only, replaced whole by every roll-up refresh "
        "(supervision.rollups)",
    ),
    "supervision.rollupwatermark": Rule("forever", "job state"),
    "core.auditlogentry": Rule("audit_log", "RETENTION_AUDIT_LOG_MONTHS (>= 6); deleted"),
    "supervision.destructionlist": Rule("forever", "proof of the destruction procedure"),
    "supervision.destructionlistitem": Rule("forever", "proof of the destruction procedure"),
    "supervision.destructioncertificate": Rule("forever", "proof of the destruction procedure"),
}

CUSTOMER = "accounts.customer"
AUDIT_LOG = "core.auditlogentry"
NOTIFICATION = "core.notification"
DESTROYED = "（已销毁）"


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def record_cutoff(today: dt.date) -> dt.date:
    return _years_before(today, callback_int("RETENTION_RECORD_YEARS"))


def audit_log_cutoff(now: dt.datetime) -> dt.datetime:
    months = callback_int("RETENTION_AUDIT_LOG_MONTHS")
    return now - dt.timedelta(days=31 * months)  # never less than the months configured


def notification_cutoff(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(days=callback_int("RETENTION_NOTIFICATION_DAYS", 365))


def _held(customers):
    """Customers under legal hold, themselves or through any of their accounts."""
    return customers.filter(
        Q(legal_hold=True)
        | Exists(Account.objects.filter(customer=OuterRef("pk"), legal_hold=True))
    )


# The audit-log entries about a customer: those naming the customer or one of its rows.
_CUSTOMER_OBJECTS = {
    "accounts.customer": (Customer, "pk"),
    "accounts.account": (Account, "customer"),
    "accounts.accountevent": (AccountEvent, "account__customer"),
    "accounts.consententry": (ConsentEntry, "customer"),
    "visits.visit": (Visit, "account__customer"),
    "visits.visitrecord": (VisitRecord, "visit__account__customer"),
    "visits.recordamendment": (RecordAmendment, "record__visit__account__customer"),
    "escalations.escalation": (Escalation, "account__customer"),
    "supervision.complaint": (Complaint, "customer"),
    "workspace.smsmessage": (SmsMessage, "customer"),
    "workspace.questionnaireinvite": (QuestionnaireInvite, "visit__account__customer"),
}


def _audit_entries_about(customer_ids) -> Q:
    """A filter on AuditLogEntry: the entries about these customers (object ids are text)."""
    return reduce(
        operator.or_,
        (
            Q(
                object_type=object_type,
                object_id__in=model._default_manager.filter(**{f"{path}__in": customer_ids})
                .annotate(pk_text=Cast("pk", CharField()))
                .values("pk_text"),
            )
            for object_type, (model, path) in _CUSTOMER_OBJECTS.items()
        ),
    )


def _held_customer_ids() -> list[int]:
    return list(_held(Customer.objects.all()).values_list("pk", flat=True))


def _in_lists(object_type: str, statuses):
    return DestructionListItem.objects.filter(
        object_type=object_type, destruction_list__status__in=statuses
    ).values("object_id")


def customers_due(today: dt.date):
    pending = [DestructionStatus.DRAFT, DestructionStatus.APPROVED, DestructionStatus.EXECUTED]
    due = Customer.objects.filter(relationship_ended_on__lte=record_cutoff(today))
    due = due.exclude(pk__in=_held(due).values("pk"))
    # object_id is text; compare as text so the subquery stays in the database
    return due.annotate(pk_text=Cast("pk", CharField())).exclude(
        pk_text__in=_in_lists(CUSTOMER, pending)
    )


@transaction.atomic
def destruction_list_draft(*, by=None, now: dt.datetime | None = None) -> DestructionList | None:
    """Draws up the list of what is due (None when nothing is). The monthly job calls this."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    open_statuses = [DestructionStatus.DRAFT, DestructionStatus.APPROVED]
    criteria = {
        "record_cutoff": record_cutoff(today).isoformat(),
        "audit_log_before": audit_log_cutoff(now).isoformat(),
        "notification_before": notification_cutoff(now).isoformat(),
    }
    destruction_list = DestructionList.objects.create(created_by=by, criteria=criteria)
    items: list[DestructionListItem] = []
    for pk in customers_due(today).values_list("pk", flat=True).iterator(chunk_size=5000):
        items.append(
            DestructionListItem(
                destruction_list=destruction_list,
                record_class="cdd",
                object_type=CUSTOMER,
                object_id=str(pk),
            )
        )
        if len(items) >= 5000:
            DestructionListItem.objects.bulk_create(items)
            items.clear()
    DestructionListItem.objects.bulk_create(items)

    if not DestructionListItem.objects.filter(
        object_type=AUDIT_LOG, destruction_list__status__in=open_statuses
    ).exists():
        old = AuditLogEntry.objects.filter(at__lt=audit_log_cutoff(now))
        last = old.aggregate(last=Max("pk"))["last"]
        if last is not None:
            DestructionListItem.objects.create(
                destruction_list=destruction_list,
                record_class="audit_log",
                object_type=AUDIT_LOG,
                object_id=str(last),
                row_count=AuditLogEntry.objects.filter(pk__lte=last)
                .exclude(_audit_entries_about(_held_customer_ids()))
                .count(),
            )
    if not DestructionListItem.objects.filter(
        object_type=NOTIFICATION, destruction_list__status__in=open_statuses
    ).exists():
        old_notifications = Notification.objects.filter(created_at__lt=notification_cutoff(now))
        last = old_notifications.aggregate(last=Max("pk"))["last"]
        if last is not None:
            DestructionListItem.objects.create(
                destruction_list=destruction_list,
                record_class="notification",
                object_type=NOTIFICATION,
                object_id=str(last),
                row_count=old.count(),
            )
    count = destruction_list.items.count()
    if count == 0:
        destruction_list.delete()
        return None
    destruction_list.item_count = count
    destruction_list.save(update_fields=["item_count"])
    audit(
        AuditAction.DESTRUCTION_DRAFT,
        actor=by,
        obj=destruction_list,
        after={"items": count, "criteria": criteria},
    )
    return destruction_list


def destruction_list_approve(*, destruction_list: DestructionList, by) -> DestructionList:
    """A supervisor other than the list's creator approves it."""
    if not has_role(by, Role.SUPERVISOR):
        raise PermissionDenied
    if destruction_list.created_by_id == by.pk:
        raise ValidationError(_("销毁清单须由创建人以外的监督管理人员批准。"), code="same_person")
    with transaction.atomic():
        changed = DestructionList.objects.filter(
            pk=destruction_list.pk, status=DestructionStatus.DRAFT
        ).update(status=DestructionStatus.APPROVED, approved_by=by, approved_at=timezone.now())
        if not changed:
            raise ValidationError(_("该清单不是草稿状态，不能批准。"), code="not_draft")
        audit(AuditAction.DESTRUCTION_APPROVE, actor=by, obj=destruction_list)
    destruction_list.refresh_from_db()
    return destruction_list


def _anonymise_customers(customer_ids) -> dict[str, int]:
    """Irreversibly overwrites everything personal of these customers. Set-based."""

    visits = Visit.objects.filter(account__customer__in=customer_ids)
    counts = {}
    counts["visits.visitrecord"] = VisitRecord.objects.filter(visit__in=visits).update(
        reported_changes={},
        usage_frequency="",
        amount_range="",
        channel_feedback="",
        needs=[],
        needs_note="",
        feedback="",
        problem="",
        answers={},
    )
    counts["visits.recordamendment"] = RecordAmendment.objects.filter(
        record__visit__in=visits
    ).update(old_value="", new_value="", reason=DESTROYED)
    counts["visits.contactattempt"] = ContactAttempt.objects.filter(visit__in=visits).update(
        note=""
    )
    counts["escalations.escalation"] = Escalation.objects.filter(
        account__customer__in=customer_ids
    ).update(description=DESTROYED, result="")
    counts["escalations.escalationstep"] = EscalationStep.objects.filter(
        escalation__account__customer__in=customer_ids
    ).update(note="")
    counts["workspace.smsmessage"] = SmsMessage.objects.filter(customer__in=customer_ids).update(
        body=DESTROYED, reply_text=""
    )
    counts["visits.visit"] = visits.update(reason="", unreachable_reason="", cancelled_reason="")
    counts["accounts.accountevent"] = AccountEvent.objects.filter(
        account__customer__in=customer_ids
    ).update(data={})
    counts["accounts.consententry"] = ConsentEntry.objects.filter(customer__in=customer_ids).update(
        note=""
    )
    counts["supervision.complaint"] = Complaint.objects.filter(customer__in=customer_ids).update(
        contact_name="",
        contact_phone="",
        contact_phone_index="",
        text=DESTROYED,
        answer="",
        extension_reason="",
    )
    counts["supervision.complaintchangerequest"] = ComplaintChangeRequest.objects.filter(
        complaint__customer__in=customer_ids
    ).update(reason="")
    accounts = Account.objects.filter(customer__in=customer_ids)
    counts["accounts.account"] = 0
    for account_id in accounts.values_list("pk", flat=True).iterator(chunk_size=5000):
        # The number is unique and personal: replaced by a meaningless unique token.
        token = f"DESTROYED-{account_id}"
        counts["accounts.account"] += Account.objects.filter(pk=account_id).update(
            number=token, number_index=blind_index(token), number_masked=DESTROYED
        )
    counts["accounts.customer"] = 0
    for customer_id in customer_ids:
        counts["accounts.customer"] += Customer.objects.filter(pk=customer_id).update(
            external_id=f"DESTROYED-{customer_id}",
            name=DESTROYED,
            id_number="",
            id_number_hash="",
            id_expiry=None,
            mobile="",
            mobile_hash="",
            email="",
            landline="",
            address="",
        )
    return counts


def _chain_jumps(kept: list[tuple[int, str, str]], last_doomed: tuple[int, str] | None):
    """Where the chain will skip destroyed entries: [hash of the remaining entry before ("" at
    the start of the log), hash the next remaining entry links to], for each entry a legal hold
    keeps (``kept``: pk, hash, prev_hash in order) that no longer follows its predecessor, and
    for the first entry after the range when the range ends with a destroyed one."""
    jumps = []
    before = ""
    for _pk, entry_hash, prev_hash in kept:
        if prev_hash != before:
            jumps.append([before, prev_hash])
        before = entry_hash
    if last_doomed is not None and (not kept or last_doomed[0] > kept[-1][0]):
        jumps.append([before, last_doomed[1]])
    return jumps


def _ids_digest(lines) -> str:
    digest = hashlib.sha256()
    for line in lines:
        digest.update(f"{line}\n".encode())
    return digest.hexdigest()


def destruction_list_execute(
    *, destruction_list: DestructionList, by=None
) -> DestructionCertificate:
    """Carries out an approved list and writes its certificate (kept forever)."""

    with retention_procedure(destruction_list_id=destruction_list.pk):
        locked = DestructionList.objects.select_for_update().get(pk=destruction_list.pk)
        approver = locked.approved_by
        if locked.status != DestructionStatus.APPROVED or approver is None:
            raise ValidationError(_("只有已批准的清单可以执行。"), code="not_approved")
        if locked.created_by_id is None and (by is None or by.pk == approver.pk):
            raise ValidationError(
                _("系统起草的销毁清单须由批准人以外的另一人执行。"), code="same_person"
            )
        items = list(locked.items.order_by("object_type", "pk"))
        customer_ids = sorted(int(i.object_id) for i in items if i.object_type == CUSTOMER)
        held = set(_held(Customer.objects.filter(pk__in=customer_ids)).values_list("pk", flat=True))
        destroyed_customers = [pk for pk in customer_ids if pk not in held]
        summary: dict = {"skipped_legal_hold": sorted(held)}
        rows = 0
        for start in range(0, len(destroyed_customers), 1000):
            chunk = destroyed_customers[start : start + 1000]
            for label, count in _anonymise_customers(chunk).items():
                summary[label] = summary.get(label, 0) + count
                rows += count
        id_lines = [f"{CUSTOMER}:{pk}" for pk in destroyed_customers]
        anchor = ""
        jumps: list[list[str]] = []
        for item in items:
            if item.object_type == AUDIT_LOG:
                in_range = AuditLogEntry.objects.filter(pk__lte=int(item.object_id))
                kept_by_hold = _audit_entries_about(_held_customer_ids())
                kept = list(
                    in_range.filter(kept_by_hold)
                    .order_by("pk")
                    .values_list("pk", "hash", "prev_hash")
                )
                doomed = in_range.exclude(kept_by_hold)
                last_doomed = doomed.order_by("-pk").values_list("pk", "hash").first()
                anchor = last_doomed[1] if last_doomed else ""
                jumps = _chain_jumps(kept, last_doomed)
                summary["audit_log_kept_legal_hold"] = len(kept)
                id_lines.extend(
                    f"{AUDIT_LOG}:{pk}"
                    for pk in doomed.order_by("pk").values_list("pk", flat=True).iterator()
                )
                deleted, _detail = doomed.delete()
                summary[AUDIT_LOG] = deleted
                rows += deleted
            elif item.object_type == NOTIFICATION:
                doomed_notifications = Notification.objects.filter(
                    pk__lte=int(item.object_id),
                    created_at__lt=dt.datetime.fromisoformat(
                        locked.criteria["notification_before"]
                    ),
                )
                id_lines.extend(
                    f"{NOTIFICATION}:{pk}"
                    for pk in doomed_notifications.order_by("pk").values_list("pk", flat=True)
                )
                deleted, _detail = doomed_notifications.delete()
                summary[NOTIFICATION] = deleted
                rows += deleted
        now = timezone.now()
        certificate = DestructionCertificate.objects.create(
            destruction_list=locked,
            summary=summary,
            item_count=len(items) - len(held),
            row_count=rows,
            method=_("个人信息不可逆匿名化；审计日志与通知删除"),
            executed_at=now,
            executed_by=by,
            approved_by=approver,
            ids_sha256=_ids_digest(id_lines),
            chain_anchor=anchor,
            chain_jumps=jumps,
        )
        DestructionList.objects.filter(pk=locked.pk).update(
            status=DestructionStatus.EXECUTED, executed_at=now
        )
        audit(
            AuditAction.DESTRUCTION_EXECUTE,
            actor=by,
            obj=locked,
            after={"certificate": certificate.pk, "rows": rows, "skipped": sorted(held)},
        )
    return certificate
