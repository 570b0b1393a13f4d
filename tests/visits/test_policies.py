"""Visit policies (SPEC §4): the seeded defaults, and the periodic cycle of each account type
and risk level at its boundary (due exactly at the horizon, one day later not yet)."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.factories import AccountFactory, CustomerFactory
from visits.generation import generate_due_visits
from visits.models import Script, Visit, VisitPolicy

pytestmark = [pytest.mark.django_db]

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)  # horizon (30 days): 2026-04-09
HORIZON = date(2026, 4, 9)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def periodic_visit(account):
    return Visit.objects.filter(account=account, kind="periodic").first()


def make(branch, *, opened_on, account_type="personal_savings", risk="low", status="active"):
    customer = CustomerFactory(branch=branch, risk_level=risk)
    return AccountFactory(
        customer=customer, account_type=account_type, opened_on=opened_on, status=status
    )


@pytest.mark.spec("4.policies")
def test_the_defaults_follow_the_spec():
    policies = {(p.kind, p.account_type): p for p in VisitPolicy.objects.filter(is_active=True)}
    new = policies[("new_account", "")]
    assert (new.due_unit, new.due_amount) == ("business_days", 5)
    assert policies[("periodic", "personal_savings")].due_amount == 12
    assert policies[("periodic", "corporate")].due_amount == 6
    assert policies[("periodic", "special")].due_amount == 6
    assert all(
        policies[("periodic", t)].halve_for_high_risk
        for t in ("personal_savings", "corporate", "special")
    )
    assert all(
        policies[("periodic", t)].due_unit == "cycle_months"
        for t in ("personal_savings", "corporate", "special")
    )
    special, follow_up = policies[("special_event", "")], policies[("follow_up", "")]
    assert (special.due_unit, special.due_amount) == ("business_days", 1)
    assert (follow_up.due_unit, follow_up.due_amount) == ("business_days", 1)
    assert (
        special.priority
        > new.priority
        > follow_up.priority
        > policies[("periodic", "corporate")].priority
    )


@pytest.mark.spec("2.scripts", clause="七.2")
def test_each_kind_has_a_chinese_script_with_placeholders_linked_to_its_policies():
    for policy in VisitPolicy.objects.all():
        assert policy.script is not None and policy.script.kind == policy.kind
    for script in Script.objects.filter(language="zh-hans"):
        for placeholder in ("{bank_name}", "{agent_name}", "{customer_name}", "{masked_account}"):
            assert placeholder in script.body
    assert Script.objects.filter(kind="periodic", body__contains="{masked_mobile}").exists()


@pytest.mark.spec("4.periodic", clause="六.2")
@pytest.mark.parametrize(
    ("account_type", "risk", "status", "months"),
    [
        ("personal_savings", "low", "active", 12),
        ("personal_savings", "medium", "active", 12),
        ("corporate", "low", "active", 6),
        ("special", "low", "active", 6),
        ("personal_savings", "high", "active", 6),  # high-risk customer: half the cycle
        ("personal_savings", "low", "dormant", 6),  # abnormal account: half the cycle
        ("personal_savings", "low", "frozen", 6),
        ("corporate", "high", "active", 3),
        ("special", "low", "frozen", 3),
    ],
)
def test_the_cycle_comes_due_at_the_horizon_and_not_a_day_later(
    branch, account_type, risk, status, months
):
    def opened(due: date) -> date:
        # the day that many months before ``due`` (all days here exist in every month)
        year, month = divmod(due.month - 1 - months, 12)
        return due.replace(year=due.year + year, month=month + 1)

    at_horizon = make(
        branch, opened_on=opened(HORIZON), account_type=account_type, risk=risk, status=status
    )
    day_after = make(
        branch,
        opened_on=opened(HORIZON + timedelta(days=1)),
        account_type=account_type,
        risk=risk,
        status=status,
    )
    generate_due_visits()
    visit = periodic_visit(at_horizon)
    assert visit is not None
    assert visit.due_at == datetime(2026, 4, 9, 17, 0, tzinfo=SHANGHAI)
    assert visit.policy.kind == "periodic" and visit.policy_version == visit.policy.version
    assert periodic_visit(day_after) is None


@pytest.mark.spec("4.periodic", clause="六.2")
def test_an_odd_cycle_halves_to_months_and_days(branch):
    VisitPolicy.objects.filter(kind="periodic", account_type="corporate").update(due_amount=3)
    # 3 months halved = 1 month 15 days: opened 2026-02-22 -> due 2026-04-06 (inside horizon)
    inside = make(branch, opened_on=date(2026, 2, 22), account_type="corporate", risk="high")
    outside = make(branch, opened_on=date(2026, 2, 26), account_type="corporate", risk="high")
    generate_due_visits()
    assert periodic_visit(inside).due_at == datetime(2026, 4, 6, 17, 0, tzinfo=SHANGHAI)
    assert periodic_visit(outside) is None


@pytest.mark.spec("4.periodic", clause="六.2")
def test_an_edited_policy_counts_at_the_next_run(branch):
    account = make(branch, opened_on=date(2025, 9, 1))  # 12-month cycle: due 2026-09-01
    generate_due_visits()
    assert periodic_visit(account) is None
    VisitPolicy.objects.filter(kind="periodic", account_type="personal_savings").update(
        due_amount=6, version=2
    )
    generate_due_visits()
    visit = periodic_visit(account)
    assert visit.due_at == datetime(2026, 3, 1, 17, 0, tzinfo=SHANGHAI)  # already overdue
    assert visit.policy_version == 2


@pytest.mark.spec("4.periodic", clause="六.2")
def test_halving_can_be_switched_off_per_policy(branch):
    VisitPolicy.objects.filter(kind="periodic", account_type="personal_savings").update(
        halve_for_high_risk=False
    )
    account = make(branch, opened_on=date(2025, 10, 1), risk="high")
    generate_due_visits()
    assert periodic_visit(account) is None
