"""Writes that touch visits. Views, the API, admin actions and tasks all call these."""

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction

from accounts.models import Account, AccountEvent
from visits.models import Channel, EventRule, Visit, VisitPolicy, VisitTrigger


def visit_open_or_join(
    *,
    account: Account,
    kind: str,
    due_at: datetime,
    due_provisional: bool = False,
    priority: int = 50,
    reason: str = "",
    policy: VisitPolicy | None = None,
    rule: EventRule | None = None,
    events: Iterable[AccountEvent] = (),
    suspected_fraud: bool = False,
    channel: str = Channel.PHONE,
) -> tuple[Visit, bool]:
    """Open a visit of ``kind`` for ``account``, or join the open one (SPEC §4: at most one
    open visit of a kind per account). Joining keeps the earlier due time and the higher
    priority, and records the new triggering events. Returns (visit, created).

    The partial unique index ``one_open_visit_per_account_kind`` decides races: the loser of
    two concurrent inserts falls back to joining the winner's visit."""
    with transaction.atomic():
        visit = Visit.objects.open().select_for_update().filter(account=account, kind=kind).first()
        created = False
        if visit is None:
            try:
                with transaction.atomic():
                    visit = Visit.objects.create(
                        account=account,
                        branch_id=account.branch_id,
                        kind=kind,
                        due_at=due_at,
                        due_provisional=due_provisional,
                        priority=priority,
                        reason=reason[:300],
                        policy=policy,
                        policy_version=policy.version if policy else None,
                        rule=rule,
                        rule_version=rule.version if rule else None,
                        suspected_fraud=suspected_fraud,
                        channel=channel,
                    )
                created = True
            except IntegrityError:
                visit = Visit.objects.open().select_for_update().get(account=account, kind=kind)
        if not created:
            changed = []
            if due_at < visit.due_at:
                visit.due_at, visit.due_provisional = due_at, due_provisional
                changed += ["due_at", "due_provisional"]
            if priority > visit.priority:
                visit.priority = priority
                changed.append("priority")
            if suspected_fraud and not visit.suspected_fraud:
                visit.suspected_fraud = True
                changed.append("suspected_fraud")
            if changed:
                visit.save(update_fields=[*changed, "updated_at"])
        VisitTrigger.objects.bulk_create(
            [
                VisitTrigger(
                    visit=visit, event=event, rule=rule, rule_version=rule.version if rule else None
                )
                for event in events
            ],
            ignore_conflicts=True,
        )
    return visit, created


# --- Agent workspace: claiming, contact attempts, the structured record ----------------------
