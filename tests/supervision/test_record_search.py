"""Finding records: supervisors in their branches, agents their own; exact account number,
customer name, kind, handling, satisfaction, escalated or not, date range, agent."""

import pytest
from django.urls import reverse

from escalations.models import Escalation, Urgency
from tests.factories import AccountFactory, CustomerFactory

from .conftest import at, make_record

pytestmark = [pytest.mark.django_db, pytest.mark.spec("9.export", clause="八.2")]


@pytest.fixture
def records(branch, other_branch, agent, other_agent, security_dept):
    def record(who, where, name, number, **kwargs):
        account = AccountFactory(customer=CustomerFactory(branch=where, name=name), number=number)
        return make_record(agent=who, branch=where, account=account, **kwargs)

    a = record(
        agent, branch, "王小明", "6222000011112222", submitted_at=at(2026, 11, 3), satisfaction=5
    )
    b = record(agent, branch, "赵丽", "6222000033334444", submitted_at=at(2026, 11, 10), satisfaction=2,
               handling="escalated")  # fmt: skip
    Escalation.objects.create(
        visit=b.visit, record=b, account=b.visit.account, department=security_dept,
        urgency=Urgency.NORMAL, description="x", deadline_at=at(2026, 11, 12), opened_by=agent,
    )  # fmt: skip
    c = record(
        other_agent, other_branch, "王小明", "6222000055556666", submitted_at=at(2026, 11, 5)
    )
    return a, b, c


def _found(client, **params):
    response = client.get(reverse("records:list"), params)
    assert response.status_code == 200
    return [r.pk for r in response.context["page"].object_list], response


def test_a_supervisor_finds_a_record_by_exact_account_number(client, supervisor, records):
    a, b, c = records
    client.force_login(supervisor)
    found, response = _found(client, account_number="6222 0000 1111 2222")
    assert found == [a.pk]
    html = response.content.decode()
    assert "6222000011112222" not in html and "王小明" not in html  # masked in the list
    assert _found(client, account_number="622200001111")[0] == []  # no partial numbers
    assert _found(client, account_number=c.visit.account.number)[0] == []  # not their branch


def test_the_filters_narrow_the_records(client, supervisor, agent, records):
    a, b, _ = records
    client.force_login(supervisor)
    assert _found(client, escalated="yes")[0] == [b.pk]
    assert _found(client, escalated="no")[0] == [a.pk]
    assert _found(client, satisfaction="5")[0] == [a.pk]
    assert _found(client, handling="escalated")[0] == [b.pk]
    assert _found(client, customer_name="赵")[0] == [b.pk]
    assert _found(client, since="2026-11-05", until="2026-11-30")[0] == [b.pk]
    assert _found(client, agent=str(agent.pk))[0] == [b.pk, a.pk]
    bad = client.get(reverse("records:list"), {"since": "2026-11-30", "until": "2026-11-01"})
    assert bad.status_code == 400 and "error-summary" in bad.content.decode()


def test_an_agent_finds_only_their_own_records(client, other_agent, records):
    _, _, c = records
    client.force_login(other_agent)
    found, response = _found(client, customer_name="王小明")
    assert found == [c.pk]
    assert "agent" not in response.context["form"].fields


def test_the_search_page_has_a_fixed_number_of_queries(
    client, supervisor, agent, branch, records, django_assert_num_queries
):
    client.force_login(supervisor)
    client.get(reverse("records:list"))
    # session, user with their profile, the branch scope (one statement, once per request), count, one page of records,
    # the notifications badge, the branch and agent pickers, the session save (3 statements)
    with django_assert_num_queries(SEARCH_QUERIES):
        client.get(reverse("records:list"))
    for n in range(5):
        make_record(agent=agent, branch=branch, submitted_at=at(2026, 11, 20 + n))
    with django_assert_num_queries(SEARCH_QUERIES):
        response = client.get(reverse("records:list"))
    assert len(response.context["page"].object_list) == 7


SEARCH_QUERIES = 11
