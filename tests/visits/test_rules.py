"""Event rules (SPEC §4 special events): thresholds at the boundary, windows, joining the open
visit, new accounts never twice, account closure, and a query count independent of batch size."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import AccountEventFactory, AccountFactory, CustomerFactory
from visits.models import EventRule, Visit, VisitTrigger
from visits.rules import apply_events

pytestmark = [pytest.mark.django_db]

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Tuesday 2026-03-10 10:00 Beijing time, a plain working day.
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def txn(account, amount, kind="cash", at=NOW, **extra):
    return AccountEventFactory(
        account=account,
        event_type="transaction",
        amount=Decimal(amount),
        txn_kind=kind,
        currency="CNY",
        occurred_at=at,
        **extra,
    )


def visits_of(account, kind="special_event"):
    return list(Visit.objects.filter(account=account, kind=kind))


@pytest.fixture
def corporate_account(branch):
    return AccountFactory(
        customer=CustomerFactory(branch=branch, customer_type="corporate"), account_type="corporate"
    )


@pytest.mark.spec("4.large-transaction")
def test_it_opens_a_visit_for_cash_at_the_threshold_exactly(account):
    event = txn(account, "50000.00")
    result = apply_events([event])
    (visit,) = visits_of(account)
    assert result[event.pk] == [visit]
    assert visit.rule.code == "cash_single_50k"
    assert visit.due_at == datetime(2026, 3, 11, 17, 0, tzinfo=SHANGHAI)  # 1 business day
    assert visit.status == "pending" and visit.branch_id == account.branch_id
    event.refresh_from_db()
    assert event.flagged is True
    assert list(visit.events.all()) == [event]


@pytest.mark.spec("4.large-transaction")
def test_it_ignores_cash_one_fen_below_the_threshold(account):
    event = txn(account, "49999.99")
    assert apply_events([event]) == {event.pk: []}
    assert visits_of(account) == []
    event.refresh_from_db()
    assert event.flagged is False


@pytest.mark.spec("4.large-transaction")
def test_it_applies_the_transfer_threshold_of_the_account_type(account, corporate_account):
    apply_events([txn(account, "499999.99", kind="transfer")])
    assert visits_of(account) == []
    Visit.objects.all().delete()
    at_personal = txn(account, "500000.00", kind="transfer", at=NOW + timedelta(days=1))
    corporate_below = txn(corporate_account, "1999999.99", kind="transfer")
    apply_events([at_personal, corporate_below])
    assert len(visits_of(account)) == 1
    assert visits_of(corporate_account) == []
    corporate_at = txn(corporate_account, "2000000.00", kind="transfer")
    apply_events([corporate_at])
    (visit,) = visits_of(corporate_account)
    assert visit.rule.code == "corporate_transfer_single_2m"


@pytest.mark.spec("4.large-transaction")
def test_it_applies_the_cash_threshold_to_any_account_type(corporate_account):
    apply_events([txn(corporate_account, "50000.00")])
    assert len(visits_of(corporate_account)) == 1


@pytest.mark.spec("4.large-transaction")
def test_it_adds_up_the_days_cash_to_the_cumulative_threshold(account):
    yesterday = txn(account, "40000.00", at=NOW - timedelta(days=1))
    morning = txn(account, "30000.00", at=NOW - timedelta(hours=1, minutes=30))  # 08:30
    apply_events([yesterday, morning])
    assert visits_of(account) == []
    short = txn(account, "19999.99", at=NOW - timedelta(minutes=30))
    apply_events([short])
    assert visits_of(account) == []  # 49,999.99 today
    reaching = txn(account, "0.01")
    result = apply_events([reaching])
    (visit,) = visits_of(account)
    assert visit.rule.code == "cash_daily_50k"
    assert result[reaching.pk] == [visit]


@pytest.mark.spec("4.large-transaction")
def test_it_does_not_add_transfers_to_the_cash_total(account):
    txn(account, "45000.00", kind="transfer", at=NOW - timedelta(hours=1))
    apply_events([txn(account, "5000.00")])
    assert visits_of(account) == []


@pytest.mark.spec("4.burst")
def test_it_flags_the_tenth_small_transaction_in_24_hours_as_suspected_fraud(account):
    txn(account, "10.00", at=NOW - timedelta(hours=24))  # exactly 24 h before: outside
    txn(account, "1000.00", at=NOW - timedelta(hours=2))  # not "under 1,000"
    [txn(account, "999.99", at=NOW - timedelta(hours=23, minutes=m)) for m in range(8)]
    ninth = txn(account, "5.00")
    apply_events([ninth])
    assert visits_of(account) == []
    tenth = txn(account, "1.00", at=NOW + timedelta(minutes=1))
    result = apply_events([tenth])
    (visit,) = visits_of(account)
    assert result[tenth.pk] == [visit]
    assert visit.suspected_fraud is True
    assert visit.priority == 100
    assert visit.due_at == datetime(2026, 3, 10, 12, 1, tzinfo=SHANGHAI)  # 2 working hours


@pytest.mark.spec("4.burst")
def test_it_counts_a_burst_inside_one_batch(account):
    events = [txn(account, "100.00", at=NOW - timedelta(minutes=i)) for i in range(10)]
    result = apply_events(events)
    (visit,) = visits_of(account)
    assert visit.suspected_fraud
    # Every transaction of the window belongs to the burst and is linked to its one visit.
    assert all(result[e.pk] == [visit] for e in events)
    assert set(visit.events.values_list("pk", flat=True)) == {e.pk for e in events}


@pytest.mark.spec("4.join-open-visit")
def test_it_joins_the_open_visit_keeping_earliest_due_and_highest_priority(account):
    info = AccountEventFactory(
        account=account, event_type="info_changed", occurred_at=NOW, data={"fields": ["mobile"]}
    )
    apply_events([info])
    (visit,) = visits_of(account)
    assert visit.priority == 70 and not visit.suspected_fraud
    assert visit.due_at == datetime(2026, 3, 11, 17, 0, tzinfo=SHANGHAI)
    later_cash = txn(account, "80000.00", at=NOW + timedelta(days=1))
    result = apply_events([later_cash])
    assert result[later_cash.pk] == [visit]
    visit.refresh_from_db()
    assert visit.due_at == datetime(2026, 3, 11, 17, 0, tzinfo=SHANGHAI)  # earliest kept
    burst = [
        txn(account, "50.00", kind="transfer", at=NOW + timedelta(days=1, minutes=i))
        for i in range(10)
    ]
    apply_events(burst)
    (visit,) = visits_of(account)
    assert visit.priority == 100 and visit.suspected_fraud
    assert visit.due_at == datetime(2026, 3, 11, 12, 9, tzinfo=SHANGHAI)  # fraud: sooner
    # info, cash, and every small transaction of the burst
    assert VisitTrigger.objects.filter(visit=visit).count() == 12
    assert set(visit.events.values_list("pk", flat=True)) == {
        info.pk,
        later_cash.pk,
        *(e.pk for e in burst),
    }


@pytest.mark.spec("4.join-open-visit")
def test_it_opens_a_new_visit_once_the_previous_one_is_closed(account):
    apply_events([txn(account, "60000.00")])
    Visit.objects.filter(account=account).update(status="completed", completed_at=NOW)
    apply_events([txn(account, "60000.00", at=NOW + timedelta(hours=1))])
    assert sorted(v.status for v in visits_of(account)) == ["completed", "pending"]


@pytest.mark.spec("4.special-event")
def test_it_opens_a_visit_for_an_info_change_and_a_complaint(account, other_account):
    info = AccountEventFactory(account=account, event_type="info_changed", occurred_at=NOW)
    complaint = AccountEventFactory(
        account=other_account, event_type="complaint", occurred_at=NOW, data={"text": "等候太久"}
    )
    result = apply_events([info, complaint])
    (a,) = visits_of(account)
    (b,) = visits_of(other_account)
    assert result == {info.pk: [a], complaint.pk: [b]}
    assert a.rule.code == "info_change" and b.rule.code == "complaint"
    assert a.due_at == b.due_at == datetime(2026, 3, 11, 17, 0, tzinfo=SHANGHAI)


@pytest.mark.spec("4.special-event")
def test_an_inactive_or_edited_rule_is_followed(account):
    EventRule.objects.filter(code="cash_single_50k").update(is_active=False)
    EventRule.objects.filter(code="cash_daily_50k").update(is_active=False)
    apply_events([txn(account, "60000.00")])
    assert visits_of(account) == []
    EventRule.objects.filter(code="cash_single_50k").update(
        is_active=True, threshold=Decimal("70000")
    )
    apply_events([txn(account, "69999.99", at=NOW + timedelta(days=2))])
    assert visits_of(account) == []
    apply_events([txn(account, "70000.00", at=NOW + timedelta(days=3))])
    assert len(visits_of(account)) == 1


@pytest.mark.spec("4.new-account", clause="六.1")
def test_it_opens_the_new_account_visit_once(branch):
    account = AccountFactory(customer=CustomerFactory(branch=branch), opened_on=date(2026, 9, 30))
    first = AccountEventFactory(account=account, event_type="account_opened", occurred_at=NOW)
    again = AccountEventFactory(account=account, event_type="account_opened", occurred_at=NOW)
    result = apply_events([first])
    (visit,) = visits_of(account, "new_account")
    assert visit.due_at == datetime(2026, 10, 13, 17, 0, tzinfo=SHANGHAI)
    assert visit.policy.kind == "new_account" and visit.policy_version == 1
    assert result[first.pk] == [visit]
    assert apply_events([again])[again.pk] == [visit]  # joins the open one
    Visit.objects.filter(pk=visit.pk).update(status="completed", completed_at=NOW)
    third = AccountEventFactory(account=account, event_type="account_opened", occurred_at=NOW)
    assert apply_events([third]) == {third.pk: []}
    assert len(visits_of(account, "new_account")) == 1


@pytest.mark.spec("4.account-closed")
def test_account_closure_cancels_the_open_visits(account, other_account):
    apply_events([txn(account, "60000.00"), txn(other_account, "60000.00")])
    apply_events([AccountEventFactory(account=account, event_type="info_changed", occurred_at=NOW)])
    done = Visit.objects.create(
        account=account,
        branch=account.branch,
        kind="periodic",
        status="completed",
        due_at=NOW,
        completed_at=NOW,
    )
    closed = AccountEventFactory(account=account, event_type="account_closed", occurred_at=NOW)
    assert apply_events([closed]) == {closed.pk: []}
    (visit,) = visits_of(account)
    assert visit.status == "cancelled" and visit.cancelled_reason
    done.refresh_from_db()
    assert done.status == "completed"
    (untouched,) = visits_of(other_account)
    assert untouched.status == "pending"


@pytest.mark.spec("4.account-closed")
def test_a_batch_that_closes_the_account_opens_nothing_for_it(account):
    cash = txn(account, "60000.00")
    closed = AccountEventFactory(account=account, event_type="account_closed", occurred_at=NOW)
    assert apply_events([cash, closed]) == {cash.pk: [], closed.pk: []}
    assert not Visit.objects.filter(account=account).exclude(status="cancelled").exists()


@pytest.mark.spec("4.rules-cost")
def test_it_runs_the_same_number_of_queries_for_one_event_or_thirty(branch):
    def measure(n: int) -> int:
        accounts = [AccountFactory(customer=CustomerFactory(branch=branch)) for _ in range(n)]
        events = [txn(a, "60000.00") for a in accounts]
        events += [txn(a, "5.00", at=NOW - timedelta(minutes=5)) for a in accounts]
        with CaptureQueriesContext(connection) as ctx:
            result = apply_events(events)
        assert sum(len(v) for v in result.values()) == n
        return len(ctx.captured_queries)

    one, thirty = measure(1), measure(30)
    # rules, accounts, policies, reference rates, ONE window aggregate, ONE burst history read,
    # the calendar's year with its days, open visits (locked), visit insert, trigger insert,
    # event flag update, 2 savepoint statements around the visit insert: the same for any batch
    # (SQLite splits an insert of more than ~40 visits in two statements).
    assert one == thirty == 13
