"""Account events -> visits (SPEC §4): the event rules, kept as data in EventRule.

``apply_events`` takes events that are already saved and, for a batch of any size, runs a
fixed handful of queries: the active rules, the accounts, the policies, the reference rates,
ONE aggregate query for the daily-cumulative windows and one for the small transactions around
the batch's bursts (``visits.bursts``), the open visits of the accounts concerned, then bulk
writes. One event is the same code with a list of one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import Account, AccountEvent, AccountStatus, Customer, EventType
from accounts.services import accounts_close
from core.audit import audit
from core.audit_actions import AuditAction
from core.calendar import BusinessCalendar, Due
from core.pg import pg_array, rows_update
from visits.bursts import Burst, burst_windows
from visits.currencies import reaches_threshold, reference_rates
from visits.event_store import StoredEvent
from visits.models import (
    OPEN_VISIT_STATUSES,
    CancelReason,
    DueUnit,
    EventRule,
    RuleType,
    Visit,
    VisitKind,
    VisitPolicy,
    VisitStatus,
    VisitTrigger,
)
from visits.opening import visit_open_or_join
from visits.transitions import visits_transition
from visits.windows import windows_reached

logger = logging.getLogger(__name__)

# Rules that make a transaction "large or abnormal": a match flags the event.
TRANSACTION_RULE_TYPES = (
    RuleType.SINGLE_TRANSACTION,
    RuleType.DAILY_CUMULATIVE,
    RuleType.SMALL_BURST,
)


# --- Policies --------------------------------------------------------------------------------


def policy_for(
    policies: Sequence[VisitPolicy], *, kind: str, account_type: str, risk_level: str = ""
):
    """The most specific active policy of ``kind`` for an account type and risk level
    (a blank field on a policy means "any")."""
    best, best_score = None, -1
    for policy in policies:
        if policy.kind != kind or not policy.is_active:
            continue
        if policy.account_type and policy.account_type != account_type:
            continue
        if policy.risk_level and policy.risk_level != risk_level:
            continue
        score = (2 if policy.account_type else 0) + (1 if policy.risk_level else 0)
        if score > best_score:
            best, best_score = policy, score
    return best


def due_from(calendar: BusinessCalendar, start: datetime, unit: str, amount: int) -> Due:
    """Due time ``amount`` ``unit`` (business days, working hours, calling hours) after
    ``start``. A year missing from the calendar never loses a visit: the answer is then
    provisional (Monday-Friday), stored as ``due_provisional`` and recomputed on loading."""
    return calendar.due(start, unit, amount)


def new_account_due(calendar: BusinessCalendar, opened_on: date, policy: VisitPolicy | None) -> Due:
    """End of working time of the N-th business day after the opening day (SPEC §4)."""
    start = datetime.combine(opened_on, time(0), tzinfo=ZoneInfo(settings.TIME_ZONE))
    if policy is not None and policy.due_unit in (DueUnit.WORKING_HOURS, DueUnit.CALLING_HOURS):
        return calendar.due(start, policy.due_unit, policy.due_amount)
    days = (
        policy.due_amount if policy is not None else settings.CALLBACK["NEW_ACCOUNT_BUSINESS_DAYS"]
    )
    return calendar.due(start, DueUnit.BUSINESS_DAYS, days)


# --- Matching -------------------------------------------------------------------------------


def _applies(rule: EventRule, account, txn_kind: str = "") -> bool:
    if rule.account_type and rule.account_type != account.account_type:
        return False
    if rule.txn_kind and rule.txn_kind != txn_kind:
        return False
    return True


def _transaction_match(
    event, candidates, reached, bursts, rates
) -> tuple[EventRule | None, Burst | None]:
    """The strongest rule the transaction matches (suspected fraud first, then priority), and
    for a burst every transaction of its window and when it was complete. ``candidates``: the
    transaction rules that apply to the event's account type and kind; ``reached``: event pk
    -> the daily-cumulative rules its day's total reaches (``windows_reached``)."""
    matched = []
    pk, amount = event.id, event.amount
    for rule in candidates:
        if rule.rule_type == RuleType.SINGLE_TRANSACTION:
            if reaches_threshold(rule, amount, event.currency, rates):
                matched.append(rule)
        elif rule.rule_type == RuleType.DAILY_CUMULATIVE:
            if rule.id in reached.get(pk, ()):
                matched.append(rule)
        elif rule.rule_type == RuleType.SMALL_BURST:
            if rule.id in bursts.get(pk, {}):
                matched.append(rule)
    if not matched:
        return None, None
    best = max(matched, key=lambda r: (r.suspected_fraud, r.priority, -r.pk))
    return best, bursts.get(pk, {}).get(best.pk)


@dataclass(slots=True)
class AccountFacts:
    """What the rules read of an account and its customer: one row of one query, no model
    instances (building 1,000 accounts with their customers was a third of a batch's time)."""

    pk: int
    branch_id: int
    account_type: str
    status: str
    opened_on: date
    risk_level: str
    do_not_contact: bool


_FACT_COLUMNS = (
    "id",
    "branch_id",
    "account_type",
    "status",
    "opened_on",
    "customer__risk_level",
    "customer__do_not_contact",
)


def _account_facts(account_ids) -> dict[int, AccountFacts]:
    return {
        row[0]: AccountFacts(*row)
        for row in Account.objects.filter(pk__in=account_ids).values_list(*_FACT_COLUMNS)
    }


def account_facts_by_index(number_indexes) -> dict[str, AccountFacts]:
    """The facts of the accounts with these blind indexes of their numbers (index -> facts), in
    one query: an API batch finds its accounts and reads what the rules need of them at once."""
    indexes = list(number_indexes)
    if not indexes:
        return {}
    if connection.vendor == "postgresql":
        # One array parameter: the ORM's IN of a thousand values costs more to build than the
        # query takes to run. Each number is looked up through the indexes of the account and
        # its customer (LATERAL ... OFFSET 0 keeps the planner from hashing the whole customer
        # table instead, its choice when a batch names a tenth of the accounts).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT i.number_index, a.id, a.branch_id, a.account_type, a.status, "
                "a.opened_on, a.risk_level, a.do_not_contact "
                "FROM unnest(%s::text[]) AS i(number_index) CROSS JOIN LATERAL ("
                "SELECT a.id, a.branch_id, a.account_type, a.status, a.opened_on, "
                f"c.risk_level, c.do_not_contact FROM {Account._meta.db_table} a "
                f"JOIN {Customer._meta.db_table} c ON c.id = a.customer_id "
                "WHERE a.number_index = i.number_index OFFSET 0) a",
                [pg_array(indexes)],
            )
            return {row[0]: AccountFacts(*row[1:]) for row in cursor.fetchall()}
    return {
        row[0]: AccountFacts(*row[1:])
        for row in Account.objects.filter(number_index__in=indexes).values_list(
            "number_index", *_FACT_COLUMNS
        )
    }


@dataclass
class _Wanted:
    """What the batch wants of one (account, kind): merged like joining an open visit."""

    account: AccountFacts
    kind: str
    due_at: datetime
    priority: int
    reason: str
    policy: VisitPolicy | None
    rule: EventRule | None
    suspected_fraud: bool
    channel: str
    events: list = field(default_factory=list)  # (event, rule)
    due_provisional: bool = False
    linked: dict = field(default_factory=dict)  # pk of a transaction of a burst -> its rule

    def merge(self, *, due: Due, priority, suspected_fraud, event, rule):
        if due.at < self.due_at:
            self.due_at, self.due_provisional = due.at, due.provisional
        if priority > self.priority:
            self.priority = priority
            self.rule = rule or self.rule
        self.suspected_fraud = self.suspected_fraud or suspected_fraud
        self.events.append((event, rule))


# --- The entry point ---------------------------------------------------------------------------


# Why a rule that matched scheduled nothing (the event answer's "skipped").
SKIPPED_ACCOUNT_CLOSED = "account_closed"
SKIPPED_DO_NOT_CONTACT = "do_not_contact"
SKIPPED_ALREADY_VISITED = "new_account_visit_done"


@dataclass
class Applied:
    """For each event pk: the visits it created or joined, and, when a rule matched but no
    visit was made, why (``SKIPPED_*``)."""

    visits: dict[int, list[Visit]]
    skipped: dict[int, str]


def apply_events(events: Sequence[AccountEvent]) -> dict[int, list[Visit]]:
    """Evaluate saved events against the active rules; open or join visits; cancel the open
    visits of closed accounts. Returns, for each event pk, the visits it created or joined."""
    return apply_events_explained(events).visits


def apply_events_explained(
    events: Sequence[AccountEvent | StoredEvent],
    *,
    accounts: dict[int, AccountFacts] | None = None,
) -> Applied:
    """``apply_events`` that also says, per event, why a matching rule scheduled nothing: the
    account is closed, the customer is do-not-contact (anything but suspected fraud), the
    account already had its new-account visit. Nothing accepted is silently dropped.
    ``accounts``: the facts of the events' accounts when the caller has just read them (by
    ``account_facts_by_index``); any account missing from it is read here."""
    result: dict[int, list[Visit]] = {e.id: [] for e in events}
    skipped: dict[int, str] = {}
    if not events:
        return Applied(result, skipped)
    calendar = BusinessCalendar()
    rules = list(EventRule.objects.filter(is_active=True).order_by("pk"))
    accounts = dict(accounts or {})
    if missing := {e.account_id for e in events} - accounts.keys():
        accounts.update(_account_facts(missing))
    policies = list(
        VisitPolicy.objects.filter(
            is_active=True, kind__in=[VisitKind.NEW_ACCOUNT, VisitKind.SPECIAL_EVENT]
        )
    )
    transactions = [e for e in events if e.event_type == EventType.TRANSACTION]
    rates = reference_rates() if transactions else {}
    # The transaction rules of each (account type, kind), worked out once per batch.
    candidates: dict[tuple[str, str], list[EventRule]] = {}

    def candidates_of(event) -> list[EventRule]:
        account = accounts.get(event.account_id)
        if account is None:
            return []
        scope = (account.account_type, event.txn_kind)
        found = candidates.get(scope)
        if found is None:
            found = candidates[scope] = [
                r
                for r in rules
                if r.rule_type in TRANSACTION_RULE_TYPES and _applies(r, account, event.txn_kind)
            ]
        return found

    reached = windows_reached(transactions, rules, rates, candidates_of)
    bursts = burst_windows(transactions, rules, rates)

    wanted: dict[tuple[int, str], _Wanted] = {}
    flagged: list[tuple[int, datetime]] = []  # (pk, occurred_at): the partition key too
    closing: dict[int, AccountEvent] = {}
    closed_by_event: dict[int, AccountEvent] = {}
    opened: list[AccountEvent] = []

    def want(event, account, kind, due: Due, priority, reason, policy, rule, fraud):
        key = (account.pk, kind)
        if key in wanted:
            wanted[key].merge(
                due=due, priority=priority, suspected_fraud=fraud, event=event, rule=rule
            )
            return
        channel = policy.preferred_channel if policy else "phone"
        wanted[key] = _Wanted(
            account,
            kind,
            due.at,
            priority,
            reason,
            policy,
            rule,
            fraud,
            channel,
            [(event, rule)],
            due.provisional,
        )

    def special_event(event, account, rule, burst: Burst | None = None):
        if account.status == AccountStatus.CLOSED:
            skipped[event.pk] = SKIPPED_ACCOUNT_CLOSED
            return
        if account.do_not_contact and not rule.suspected_fraud:
            skipped[event.pk] = SKIPPED_DO_NOT_CONTACT
            return
        policy = policy_for(
            policies,
            kind=VisitKind.SPECIAL_EVENT,
            account_type=account.account_type,
            risk_level=account.risk_level,
        )
        start = burst.completed_at if burst is not None else event.occurred_at
        due = due_from(calendar, start, rule.due_unit, rule.due_amount)
        want(
            event,
            account,
            VisitKind.SPECIAL_EVENT,
            due,
            rule.priority,
            rule.name,
            policy,
            rule,
            rule.suspected_fraud,
        )
        for pk in burst.event_ids if burst is not None else ():
            wanted[(account.pk, VisitKind.SPECIAL_EVENT)].linked.setdefault(pk, rule)

    for event in events:
        account = accounts.get(event.account_id)
        if account is None:
            continue
        if event.event_type == EventType.TRANSACTION:
            rule, burst = _transaction_match(event, candidates_of(event), reached, bursts, rates)
            if rule is not None:
                flagged.append((event.pk, event.occurred_at))
                if burst is not None:
                    flagged += burst.events
                special_event(event, account, rule, burst)
        elif event.event_type in (EventType.INFO_CHANGED, EventType.COMPLAINT):
            rule_type = (
                RuleType.INFO_CHANGE
                if event.event_type == EventType.INFO_CHANGED
                else RuleType.COMPLAINT
            )
            rule = next(
                (r for r in rules if r.rule_type == rule_type and _applies(r, account)), None
            )
            if rule is not None:
                special_event(event, account, rule)
        elif event.event_type == EventType.ACCOUNT_OPENED:
            opened.append(event)
        elif event.event_type == EventType.ACCOUNT_CLOSED:
            closed_by_event[account.pk] = event
            if any(r.rule_type == RuleType.ACCOUNT_CLOSED and _applies(r, account) for r in rules):
                closing[account.pk] = event

    if opened:
        # Never twice: an account that ever had a new-account visit gets none from an event,
        # unless that visit is still open (then the event joins it).
        had_one = set(
            Visit.objects.filter(
                account_id__in={e.account_id for e in opened}, kind=VisitKind.NEW_ACCOUNT
            )
            .exclude(status__in=OPEN_VISIT_STATUSES)
            .values_list("account_id", flat=True)
        )
        for event in opened:
            account = accounts[event.account_id]
            if account.pk in had_one:
                skipped[event.pk] = SKIPPED_ALREADY_VISITED
                continue
            if account.status == AccountStatus.CLOSED or account.pk in closing:
                skipped[event.pk] = SKIPPED_ACCOUNT_CLOSED
                continue
            if account.do_not_contact:
                skipped[event.pk] = SKIPPED_DO_NOT_CONTACT
                continue
            policy = policy_for(
                policies,
                kind=VisitKind.NEW_ACCOUNT,
                account_type=account.account_type,
                risk_level=account.risk_level,
            )
            want(
                event,
                account,
                VisitKind.NEW_ACCOUNT,
                new_account_due(calendar, account.opened_on, policy),
                policy.priority if policy else 60,
                gettext("新开户回访"),
                policy,
                None,
                False,
            )

    # An account closed in this batch gets no new visits from it.
    for key in [k for k in wanted if k[0] in closing]:
        for event, _rule in wanted.pop(key).events:
            skipped[event.pk] = SKIPPED_ACCOUNT_CLOSED

    with transaction.atomic(savepoint=False):
        visits = _open_or_join_all(list(wanted.values()))
        for (account_id, _kind), visit in visits.items():
            for event, _rule in wanted[(account_id, _kind)].events:
                result[event.pk].append(visit)
        if flagged:
            _events_flag(flagged)
        if closing:
            _cancel_open_visits(closing)
        if closed_by_event:
            accounts_close(
                closed_on={
                    pk: timezone.localdate(event.occurred_at)
                    for pk, event in closed_by_event.items()
                }
            )
    return Applied(result, skipped)


def _events_flag(flagged: list[tuple[int, datetime]]) -> None:
    """Marks these events (pk, occurred_at) flagged, bounded by time as well, so that only the
    partitions that hold them are read. On PostgreSQL one written statement with an array
    parameter (as ``_open_visits_locked``)."""
    pks = sorted({pk for pk, _at in flagged})
    earliest = min(at for _pk, at in flagged)
    latest = max(at for _pk, at in flagged)
    if connection.vendor != "postgresql":
        AccountEvent.objects.filter(
            pk__in=pks, occurred_at__gte=earliest, occurred_at__lte=latest
        ).update(flagged=True)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AccountEvent._meta.db_table} SET flagged = true "
            "WHERE id = ANY(%s::bigint[]) AND occurred_at >= %s AND occurred_at <= %s",
            [pg_array(pks), earliest, latest],
        )


def _open_visits_locked(account_ids: set[int], kinds: set[str]):
    """The open visits of these accounts and kinds, locked FOR UPDATE in id order (one locking
    order for every process: no deadlock between batches). On PostgreSQL one written statement
    with array parameters: the ORM took a millisecond of Python to build it, for a batch."""
    if connection.vendor != "postgresql":
        return (
            Visit.objects.open()
            .select_for_update()
            .filter(account_id__in=account_ids, kind__in=kinds)
            .order_by("pk")
        )
    return Visit.objects.raw(
        f"SELECT * FROM {Visit._meta.db_table} WHERE account_id = ANY(%s::bigint[]) "
        "AND kind = ANY(%s::text[]) AND status = ANY(%s::text[]) ORDER BY id FOR UPDATE",
        [pg_array(sorted(account_ids)), pg_array(sorted(kinds)), pg_array(OPEN_VISIT_STATUSES)],
    )


def _open_or_join_all(wanted: list[_Wanted]) -> dict[tuple[int, str], Visit]:
    """Create the missing visits in one bulk insert and join the open ones (earliest due,
    highest priority, fraud sticks), then add every trigger in one bulk insert."""
    if not wanted:
        return {}
    now = timezone.now()
    open_visits = {
        (v.account_id, v.kind): v
        for v in _open_visits_locked({w.account.pk for w in wanted}, {w.kind for w in wanted})
    }
    to_create, to_update, visits = [], [], {}
    for w in wanted:
        key = (w.account.pk, w.kind)
        visit = open_visits.get(key)
        if visit is None:
            visit = Visit(
                account_id=w.account.pk,
                branch_id=w.account.branch_id,
                kind=w.kind,
                due_at=w.due_at,
                due_provisional=w.due_provisional,
                priority=w.priority,
                reason=w.reason[:300],
                policy=w.policy,
                policy_version=w.policy.version if w.policy else None,
                rule=w.rule,
                rule_version=w.rule.version if w.rule else None,
                suspected_fraud=w.suspected_fraud,
                channel=w.channel,
                created_at=now,
            )
            to_create.append(visit)
        else:
            changed = False
            if w.due_at < visit.due_at:
                visit.due_at, visit.due_provisional = w.due_at, w.due_provisional
                changed = True
            if w.priority > visit.priority:
                visit.priority, changed = w.priority, True
            if w.suspected_fraud and not visit.suspected_fraud:
                visit.suspected_fraud, changed = True, True
            if changed:
                visit.updated_at = now
                to_update.append(visit)
        visits[key] = visit
    to_create.sort(key=lambda v: (v.account_id, v.kind))  # same order for every process
    try:
        with transaction.atomic():
            Visit.objects.bulk_create(to_create)
    except IntegrityError:
        # Another process opened one of these visits since we looked: the slow, exact path,
        # one visit at a time (the unique index decides who created it).
        logger.info(
            "concurrent visit creation; joining one by one", extra={"visits": len(to_create)}
        )
        for visit in to_create:
            w = next(x for x in wanted if (x.account.pk, x.kind) == (visit.account_id, visit.kind))
            joined, _created = visit_open_or_join(
                account=Account.objects.get(pk=w.account.pk),
                kind=w.kind,
                due_at=w.due_at,
                due_provisional=w.due_provisional,
                priority=w.priority,
                reason=w.reason,
                policy=w.policy,
                rule=w.rule,
                suspected_fraud=w.suspected_fraud,
                channel=w.channel,
            )
            visits[(visit.account_id, visit.kind)] = joined
    rows_update(
        to_update, ["due_at", "due_provisional", "priority", "suspected_fraud", "updated_at"]
    )
    triggers = []
    for w in wanted:
        # The batch's own events, then the other transactions of a burst's window.
        linked = {event.pk: rule for event, rule in w.events}
        for pk, rule in w.linked.items():
            linked.setdefault(pk, rule)
        triggers += [
            VisitTrigger(
                visit=visits[(w.account.pk, w.kind)],
                event_id=pk,
                rule=rule,
                rule_version=rule.version if rule else None,
                created_at=now,
            )
            for pk, rule in linked.items()
        ]
    VisitTrigger.objects.bulk_create(triggers, ignore_conflicts=True)
    return visits


def _cancel_open_visits(closing: dict[int, AccountEvent]) -> int:
    reason = CancelReason.ACCOUNT_CLOSED
    cancelled = defaultdict(list)
    for visit_id, account_id in (
        Visit.objects.open()
        .select_for_update()
        .filter(account_id__in=list(closing))
        .order_by("pk")
        .values_list("pk", "account_id")
    ):
        cancelled[account_id].append(visit_id)
    ids = [pk for pks in cancelled.values() for pk in pks]
    if not ids:
        return 0
    count = visits_transition(
        Visit.objects.open().filter(pk__in=ids), to=VisitStatus.CANCELLED, reason=reason
    )
    for account_id, pks in cancelled.items():
        audit(
            AuditAction.VISIT_CANCEL,
            object_type="account",
            object_id=str(account_id),
            after={"visits": pks, "event": closing[account_id].event_id},
        )
    return count
