"""Shared personas: an agent, a teller, a handler, a supervisor, an administrator of the
Beijing branch, and an outsider agent of the Shanghai branch who must see nothing of Beijing."""

import pytest

from accounts.models import Role
from accounts.services import staff_create

from .factories import AccountFactory, BranchFactory, CustomerFactory, DepartmentFactory

PASSWORD = "Callback-Test-2026!"


@pytest.fixture
def branch(db):
    return BranchFactory(code="BJ001", name="北京分行营业部")


@pytest.fixture
def other_branch(db):
    return BranchFactory(code="SH001", name="上海分行营业部")


@pytest.fixture
def security_dept(db):
    return DepartmentFactory(code="security", name="安全保卫部")


@pytest.fixture
def ebanking_dept(db):
    return DepartmentFactory(code="ebanking", name="电子银行部")


@pytest.fixture
def agent(branch):
    return staff_create(
        username="agent1", password=PASSWORD, role=Role.AGENT, full_name="李娜", branches=[branch]
    )


@pytest.fixture
def other_agent(other_branch):
    return staff_create(
        username="outsider",
        password=PASSWORD,
        role=Role.AGENT,
        full_name="王强",
        branches=[other_branch],
    )


@pytest.fixture
def teller(branch):
    return staff_create(username="teller1", password=PASSWORD, role=Role.TELLER, branches=[branch])


@pytest.fixture
def handler(security_dept):
    return staff_create(
        username="handler1", password=PASSWORD, role=Role.HANDLER, departments=[security_dept]
    )


@pytest.fixture
def supervisor(branch):
    return staff_create(
        username="super1", password=PASSWORD, role=Role.SUPERVISOR, branches=[branch]
    )


@pytest.fixture
def administrator(db):
    return staff_create(username="admin1", password=PASSWORD, role=Role.ADMINISTRATOR)


@pytest.fixture
def customer(branch):
    return CustomerFactory(branch=branch)


@pytest.fixture
def account(customer):
    return AccountFactory(customer=customer)


@pytest.fixture
def other_account(other_branch):
    return AccountFactory(customer=CustomerFactory(branch=other_branch))


def ensure_reference_data() -> None:
    """Put back what the data migrations seed (calendar, policies, rules, scripts, SMS
    templates, questions) when a transactional test that ran earlier in this database
    flushed every table."""
    from importlib import import_module

    from django.apps import apps

    from core.models import CalendarYear
    from visits.models import EventRule
    from workspace.models import QuestionnaireQuestion

    if not CalendarYear.objects.exists():
        import_module("core.migrations.0002_calendar_2025_2026").load(apps, None)
        import_module("core.migrations.0003_calendar_2005_2024").load(apps, None)
    if not EventRule.objects.exists():
        import_module("visits.migrations.0002_seed_policies_rules_scripts").seed(apps, None)
        calling_hours = import_module("visits.migrations.0006_visit_due_provisional_calling_hours")
        calling_hours.fraud_in_calling_hours(apps, None)
    if not QuestionnaireQuestion.objects.exists():
        import_module("workspace.migrations.0002_seed_sms_questionnaire").seed(apps, None)
        import_module("workspace.migrations.0004_questionnaire_denies_transactions").mark(
            apps, None
        )


@pytest.fixture(autouse=True)
def _reference_data(request):
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    transactional = "transactional_db" in names or bool(marker and marker.kwargs.get("transaction"))
    if transactional or "live_server" in names:
        request.getfixturevalue("transactional_db")
    elif marker is not None or "db" in names:
        request.getfixturevalue("db")
    else:
        return
    ensure_reference_data()
