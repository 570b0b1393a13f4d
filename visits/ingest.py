"""Writes on staff, customers and accounts."""

import datetime
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, AccountEvent, AccountStatus, Customer, EventType
from accounts.services import customer_relationship_refresh
from core.audit import audit
from core.audit_actions import AuditAction
from core.calendar import DueUnit, business_tz, due
from core.config import callback_int
from core.crypto import blind_index
from core.masking import mask_address, mask_id_number, mask_phone
from visits import event_store
from visits.contact import do_not_contact_visits_cancel
from visits.rules import AccountFacts, Applied, apply_events_explained

logger = logging.getLogger(__name__)

IDEMPOTENCY_CONFLICT = _("该 event_id 已用于内容不同的事件。")


# --- Core-banking ingestion: customers, accounts and account events (API.md) ------------------
# Used by the REST API (visits/api/), the teller page and the system's own events.

CONTACT_FIELDS = ("mobile", "email", "landline", "address")
_CUSTOMER_FIELDS = (
    "customer_type",
    "name",
    "id_type",
    "id_number",
    "id_expiry",
    "mobile",
    "email",
    "landline",
    "address",
    "risk_level",
    "marketing_consent",
    "do_not_contact",
    "branch",
    "source_version",
)
_ACCOUNT_FIELDS = ("customer", "account_type", "status", "opened_on", "branch", "source_version")


@dataclass
class EventInput:
    """One validated event, ready to store. ``fields`` are AccountEvent attributes
    (event_type, account or account_id, occurred_at, data, amount, currency, txn_kind,
    direction, channel)."""

    event_id: str
    body_hash: str
    fields: dict
    account: AccountFacts | None = None  # what the rules read of the account, when known


@dataclass
class EventResult:
    event_id: str
    status: int  # 201 new, 200 repeat (first answer), 409 same id with a different body
    body: dict


def canonical_hash(body, *, floatless: bool = False) -> str:
    """SHA-256 of the canonical JSON of a request body (sorted keys, no spaces, UTF-8). orjson
    writes the same bytes as ``json.dumps`` for strings, integers, booleans and null; a body
    with a float or a value JSON lacks (a Decimal, a date: ``str``) takes the slower path, whose
    number and fallback spelling the stored hashes were made with. ``floatless``: the caller
    has checked that the body holds no float (a valid API event holds strings only)."""
    try:
        if floatless or not _has_float(body):
            return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    except TypeError:
        pass
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _has_float(value) -> bool:
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_float(v) for v in value)
    return isinstance(value, float)


def _is_stale(obj, source_version) -> bool:
    """An older message arriving late never overwrites a newer one."""
    return (
        source_version is not None
        and obj.source_version is not None
        and source_version < obj.source_version
    )


def _audit_fields(obj, names) -> dict:
    """Values for the audit log: personal data masked, foreign keys as ids."""
    masks = {
        "id_number": mask_id_number,
        "mobile": mask_phone,
        "landline": mask_phone,
        "address": mask_address,
    }
    out = {}
    for name in names:
        if name in ("branch", "customer"):
            out[name] = getattr(obj, f"{name}_id")
        elif name in masks:
            out[name] = masks[name](getattr(obj, name))
        else:
            out[name] = getattr(obj, name)
    return out


def _locked_get_or_create(model, *, lookup: dict, values: dict):
    """The row locked for update, or a new one. When a concurrent request creates it first,
    its row is locked and returned instead (the caller then replaces it). Returns (row, created)."""
    row = model.objects.select_for_update().filter(**lookup).first()
    if row is not None:
        return row, False
    try:
        with transaction.atomic():
            return model.objects.create(**lookup, **values), True
    except IntegrityError:
        return model.objects.select_for_update().get(**lookup), False


def customer_upsert(*, external_id: str, data: dict, client=None, request=None):
    """Create or replace the customer with core banking's ``external_id``.

    ``data`` holds validated values (``branch`` is a Branch). Returns
    (customer, created, changed_contact_fields). A lower ``source_version`` than the stored one
    changes nothing. A change of mobile, e-mail, landline or address raises one ``info_changed``
    event on the customer's first open account (lowest id, not closed): the visit is about the
    customer's reserved information, so one visit is enough, not one per account."""

    with transaction.atomic():
        customer, created = _locked_get_or_create(
            Customer,
            lookup={"external_id": external_id},
            values={k: data[k] for k in _CUSTOMER_FIELDS if k in data},
        )
        if created:
            audit(
                AuditAction.CUSTOMER_CREATE,
                obj=customer,
                after=_audit_fields(customer, ("branch", "customer_type", "risk_level")),
                client=client,
                request=request,
            )
            return customer, True, []
        if _is_stale(customer, data.get("source_version")):
            return customer, False, []
        changed = [
            name
            for name in _CUSTOMER_FIELDS
            if name in data and getattr(customer, name) != data[name]
        ]
        if not changed:
            return customer, False, []
        before = _audit_fields(customer, changed)
        for name in changed:
            setattr(customer, name, data[name])
        customer.save(update_fields=[*changed, "updated_at"])
        entry = audit(
            AuditAction.CUSTOMER_UPDATE,
            obj=customer,
            before=before,
            after=_audit_fields(customer, changed),
            client=client,
            request=request,
        )
        if "do_not_contact" in changed and customer.do_not_contact:
            do_not_contact_visits_cancel(customer=customer, client=client, request=request)
        contact_changed = [name for name in CONTACT_FIELDS if name in changed]
        if contact_changed:
            _info_changed_event(
                customer=customer,
                fields=contact_changed,
                cause=entry.pk,
                client=client,
                request=request,
            )
        return customer, False, contact_changed


def _info_changed_event(*, customer, fields, cause: int, client, request) -> None:
    account = (
        Account.objects.filter(customer=customer)
        .exclude(status=AccountStatus.CLOSED)
        .order_by("pk")
        .first()
    )
    if account is None:
        return  # nothing to visit yet; the next account opened gets a new-account visit anyway
    # The system's own events go through the idempotent path of the API's events. An event
    # raised each time something happens again (a contact change, an account closed) is named
    # after the audit entry of the change that caused it: unique without reading the events
    # already stored (counting them scanned every event of the client), and the same change
    # never raises two.
    event_ingest_one(
        event_id=f"auto-info-{customer.pk}-{cause}",
        client=client,
        account=account,
        event_type=EventType.INFO_CHANGED,
        data={"fields": fields},
        request=request,
        audit_action=AuditAction.EVENT_RAISE,
    )


def event_ingest_one(
    *,
    account,
    event_id: str,
    event_type: str,
    data: dict,
    audit_action: str,
    body: dict | None = None,
    client=None,
    created_by=None,
    request=None,
    audit_details: dict | None = None,
) -> EventResult:
    """One event raised inside the product (the teller page, a change reported on a call, an
    SMS reply, the system's own events) through ``events_ingest``, like the API's: the same
    idempotency on ``event_id``, the same rules, one audit entry (``audit_details`` added to
    it). ``body`` is what the idempotency hash covers (default: the id, the type and
    ``data``)."""
    body = body if body is not None else {"event_id": event_id, "type": event_type, **data}
    [result] = events_ingest(
        client=client,
        events=[
            EventInput(
                event_id=event_id,
                body_hash=canonical_hash(body),
                fields={
                    "event_type": event_type,
                    "account": account,
                    "occurred_at": timezone.now(),
                    "data": data,
                },
            )
        ],
        created_by=created_by,
        request=request,
        audit_action=audit_action,
        audit_details=audit_details,
    )
    return result


def new_account_window_open(opened_on: datetime.date, now: datetime.datetime | None = None) -> bool:
    """True while a new account's visit is not yet past due: until the end of working time of
    the N-th business day after opening (SPEC §4), on the one business calendar (a year not
    loaded yet counts Monday-Friday, as the visit's own provisional due time does)."""

    now = timezone.localtime(now or timezone.now(), business_tz())
    if opened_on >= now.date():
        return True
    start = datetime.datetime.combine(opened_on, datetime.time(0), tzinfo=business_tz())
    return now <= due(start, DueUnit.BUSINESS_DAYS, callback_int("NEW_ACCOUNT_BUSINESS_DAYS")).at


def account_upsert(*, number: str, data: dict, client=None, request=None):
    """Create or replace the account ``number``. ``data`` holds validated values (``customer``
    and ``branch`` are objects). Returns (account, created). Creating an account inside the
    new-account window records an ``account_opened`` event with the deterministic id
    ``auto-opened-<account id>`` through the idempotent event path, so its visit is never
    scheduled twice."""

    with transaction.atomic():
        account, created = _locked_get_or_create(
            Account,
            lookup={"number_index": blind_index(number)},
            values={"number": number, **{k: data[k] for k in _ACCOUNT_FIELDS if k in data}},
        )
        if created:
            if account.status == AccountStatus.CLOSED and account.closed_on is None:
                account.closed_on = timezone.localdate()
                account.save(update_fields=["closed_on"])
            audit(
                AuditAction.ACCOUNT_CREATE,
                obj=account,
                after=_audit_fields(account, ("customer", "branch", "account_type", "status")),
                client=client,
                request=request,
            )
            customer_relationship_refresh(customer_ids=[account.customer_id])
            if account.status != AccountStatus.CLOSED and new_account_window_open(
                account.opened_on
            ):
                event_id = f"auto-opened-{account.pk}"  # the number is personal data
                event_ingest_one(
                    client=client,
                    account=account,
                    event_id=event_id,
                    event_type=EventType.ACCOUNT_OPENED,
                    data={},
                    request=request,
                    audit_action=AuditAction.EVENT_RAISE,
                )
            return account, True
        if _is_stale(account, data.get("source_version")):
            return account, False
        changed = [
            name
            for name in _ACCOUNT_FIELDS
            if name in data and getattr(account, name) != data[name]
        ]
        if not changed:
            return account, False
        before = _audit_fields(account, changed)
        for name in changed:
            setattr(account, name, data[name])
        if "status" in changed and account.status == AccountStatus.CLOSED and not account.closed_on:
            account.closed_on = timezone.localdate()
            changed.append("closed_on")
        elif "status" in changed and account.status != AccountStatus.CLOSED and account.closed_on:
            account.closed_on = None  # reopened
            changed.append("closed_on")
        account.save(update_fields=[*changed, "updated_at"])
        entry = audit(
            AuditAction.ACCOUNT_UPDATE,
            obj=account,
            before=before,
            after=_audit_fields(account, changed),
            client=client,
            request=request,
        )
        if "status" in changed and account.status == AccountStatus.CLOSED:
            _account_closed_event(account=account, cause=entry.pk, client=client, request=request)
        if "status" in changed:  # closing the last account ends the relationship; reopening not
            customer_relationship_refresh(customer_ids=[account.customer_id])
        return account, False


def _account_closed_event(*, account, cause: int, client, request) -> None:
    """A PUT that closes the account is itself an ``account_closed`` event: its open visits are
    cancelled as when core banking sends the event."""
    event_ingest_one(  # named after the change that closed it, as in _info_changed_event
        event_id=f"auto-closed-{account.pk}-{cause}",
        client=client,
        account=account,
        event_type=EventType.ACCOUNT_CLOSED,
        data={},
        request=request,
        audit_action=AuditAction.EVENT_RAISE,
    )


def _visit_summary(visit) -> dict:
    return {
        "id": visit.pk,
        "kind": visit.kind,
        "due_at": timezone.localtime(visit.due_at).isoformat(),
        "due_provisional": visit.due_provisional,
        "suspected_fraud": visit.suspected_fraud,
    }


DEADLOCK_RETRIES = 3
_RETRYABLE_PGCODES = {"40P01", "40001"}  # deadlock detected, serialization failure


def _is_retryable(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "pgcode", None) in _RETRYABLE_PGCODES


def events_ingest(*, client, events: list[EventInput], **kwargs) -> list[EventResult]:
    """``_events_ingest_once`` in one transaction (the events, their visits and the audit entry
    are stored together or not at all), tried again when PostgreSQL chose it as the victim of
    a deadlock (a batch that overlaps another one sent at the same moment): nothing of the
    failed try remains. Inside a caller's transaction there is nothing to retry, and the
    error goes up."""
    if connection.in_atomic_block:
        return _events_ingest_once(client=client, events=events, **kwargs)
    for attempt in range(1, DEADLOCK_RETRIES + 1):
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    # Foreign keys checked as rows are written, not at COMMIT: the audit entry,
                    # written last, holds the audit chain's lock until COMMIT, and the checks of
                    # a thousand events would otherwise run under it.
                    with connection.cursor() as cursor:
                        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                return _events_ingest_once(client=client, events=events, **kwargs)
        except OperationalError as exc:
            if not _is_retryable(exc) or attempt == DEADLOCK_RETRIES:
                raise
            logger.warning(
                "event ingestion retried after a deadlock",
                extra={"attempt": attempt, "events": len(events)},
            )
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _events_ingest_once(
    *,
    client,
    events: list[EventInput],
    created_by=None,
    request=None,
    audit_action: str = AuditAction.EVENT_INGEST,
    audit_details: dict | None = None,
) -> list[EventResult]:
    """Store new events idempotently and run the event rules on them, set-based.

    ``event_id`` is unique per client (its ``EventKey``, kept for a window): a known id with
    the same body hash answers 200 with the first answer, with another body 409. The keys of
    the new events are claimed in one statement, the events inserted in another and passed to
    ``visits.rules.apply_events`` once; the loser of a race on a key reads the winner's key and
    answers like a repeat. One audit entry summarises the whole call. Returns one result per
    input, in order."""

    results: list[EventResult | None] = [None] * len(events)
    known: dict[str, tuple[str, dict | None]] = {}
    if client is None and events:
        known = _known_without_client(e.event_id for e in events)
    # A service client's keys are claimed without reading them first: a key the claim does not
    # return was stored before (a repeat) or by a concurrent batch, and is read afterwards.

    to_insert: dict[str, tuple[int, EventInput]] = {}
    pending_repeats: list[int] = []  # a later duplicate of an id first seen in this batch
    for i, event in enumerate(events):
        if event.event_id in known:
            results[i] = _repeat_result(event, *known[event.event_id])
        elif event.event_id in to_insert:
            pending_repeats.append(i)
        else:
            to_insert[event.event_id] = (i, event)

    now = timezone.now()
    new_events: list[event_store.StoredEvent] = []
    race_losers: list[int] = []
    with transaction.atomic(savepoint=False):
        claimed: set[str] = set()
        if client is not None:
            claimed = event_store.keys_claim(
                client=client,
                keys=[(event.event_id, event.body_hash) for _i, event in to_insert.values()],
                now=now,
            )
        rows, new_positions = [], []
        common = {
            "client_id": client.pk if client is not None else None,
            "created_by_id": created_by.pk if created_by is not None else None,
            "received_at": now,
        }
        for i, event in to_insert.values():
            if client is not None and event.event_id not in claimed:
                race_losers.append(i)  # a repeat: the first key is read after this transaction
                continue
            row: dict[str, Any] = {
                **common,
                "event_id": event.event_id,
                "body_hash": event.body_hash,
            }
            row.update(event.fields)
            if "account" in row:  # an id is cheaper than a related object for 1,000 rows
                row["account_id"] = row.pop("account").pk
            rows.append(row)
            new_positions.append(i)
        new_events = event_store.stored_events(rows, event_store.events_insert(rows))
        facts = {e.account.pk: e.account for _i, e in to_insert.values() if e.account}
        applied = (
            apply_events_explained(new_events, accounts=facts) if new_events else Applied({}, {})
        )
        answers = {}  # the first answers worth keeping: those that say more than "no visit"
        visits_of, skipped_of = applied.visits, applied.skipped
        for stored, i in zip(new_events, new_positions):
            visits = visits_of.get(stored.id)
            reason = skipped_of.get(stored.id)
            if not visits and not reason:  # most of a batch: no visit, nothing to say
                results[i] = EventResult(
                    stored.event_id, 201, {"event_id": stored.event_id, "visits": []}
                )
                continue
            body = {
                "event_id": stored.event_id,
                "visits": [_visit_summary(v) for v in visits or ()],
            }
            if reason:
                body["skipped"] = reason  # a rule matched but scheduled nothing: say why
            if stored.event_id in claimed:
                answers[stored.event_id] = body
            results[i] = EventResult(stored.event_id, 201, body)
        if client is not None:
            event_store.keys_answer(client=client, answers=answers)

    if race_losers:
        winners = event_store.keys_known(
            client=client, event_ids=(events[i].event_id for i in race_losers)
        )
        for i in race_losers:
            results[i] = _repeat_result(events[i], *winners[events[i].event_id])
    for i in pending_repeats:
        first = next(r for r in results if r is not None and r.event_id == events[i].event_id)
        first_input = next(e for e in events if e.event_id == events[i].event_id)
        if first.status == 409 and first_input.body_hash == events[i].body_hash:
            results[i] = EventResult(first.event_id, 409, first.body)
        else:
            results[i] = _repeat_result(events[i], first_input.body_hash, first.body)

    answered = [result for result in results if result is not None]
    if len(answered) != len(events):
        raise RuntimeError("An event was left without an answer.")
    counts = {"received": len(events)}
    for result in answered:
        counts[str(result.status)] = counts.get(str(result.status), 0) + 1
    if events:
        ids = sorted(e.event_id for e in events)
        audit(
            audit_action,
            object_type="accounts.accountevent",
            after={
                **counts,
                "first_event_id": ids[0],
                "last_event_id": ids[-1],
                **(audit_details or {}),
            },
            actor=created_by,
            client=client,
            request=request,
        )
    return answered


def _known_without_client(event_ids) -> dict[str, tuple[str, dict | None]]:
    """Events without a service client (the teller page, the product's own) have no key row:
    the event table itself answers for their ids (index ``event_client_event_id``), so that a
    form sent twice stores its event once."""
    return {
        event_id: (body_hash, None)
        for event_id, body_hash in AccountEvent.objects.filter(
            client__isnull=True, event_id__in=set(event_ids)
        ).values_list("event_id", "body_hash")
    }


def _repeat_result(event: EventInput, body_hash: str, response: dict | None) -> EventResult:
    if body_hash != event.body_hash:
        return EventResult(
            event.event_id,
            409,
            {"event_id": event.event_id, "errors": {"event_id": [str(IDEMPOTENCY_CONFLICT)]}},
        )
    return EventResult(event.event_id, 200, response or {"event_id": event.event_id, "visits": []})
