"""The teller page: a special event seen at the counter, through the same rules as the API."""

import pytest
import time_machine
from django.urls import reverse

from accounts.models import AccountEvent
from core.models import AuditLogEntry
from visits.models import Visit

from .workspace_helpers import CALL_TIME, ensure_seed_data

pytestmark = [pytest.mark.django_db, pytest.mark.spec("4.special-event")]


@pytest.fixture(autouse=True)
def _seed_data(db):
    ensure_seed_data()


@pytest.fixture(autouse=True)
def _at_call_time():
    with time_machine.travel(CALL_TIME, tick=False):
        yield


def test_an_info_change_at_the_counter_opens_a_special_event_visit(client, teller, account):
    client.force_login(teller)
    response = client.post(
        reverse("workspace:teller"),
        {"account_number": account.number, "event_type": "info_changed",
         "changed_fields": ["mobile", "address"]},
    )  # fmt: skip
    assert response.status_code == 200
    event = AccountEvent.objects.get()
    assert (event.event_type, event.created_by, event.client) == ("info_changed", teller, None)
    assert event.data["fields"] == ["mobile", "address"]
    visit = Visit.objects.get(account=account)
    assert visit.kind == "special_event" and visit.is_open
    assert response.context["result"]["visits"] == [visit]
    assert f'data-visit="{visit.pk}"' in response.content.decode()
    assert AuditLogEntry.objects.filter(action="event.register").exists()


def test_a_complaint_joins_the_open_special_event_visit(client, teller, account):
    client.force_login(teller)
    url = reverse("workspace:teller")
    client.post(url, {"account_number": account.number, "event_type": "complaint",
                      "text": "柜台排队太久"})  # fmt: skip
    client.post(url, {"account_number": account.number, "event_type": "info_changed",
                      "changed_fields": ["email"]})  # fmt: skip
    assert AccountEvent.objects.count() == 2
    assert Visit.objects.filter(account=account, kind="special_event").count() == 1
    assert Visit.objects.get().triggers.count() == 2


def test_it_shows_errors_next_to_the_fields(client, teller, account):
    client.force_login(teller)
    response = client.post(reverse("workspace:teller"), {"account_number": account.number,
                                                         "event_type": "complaint", "text": " "})  # fmt: skip
    assert response.status_code == 400
    assert response.context["form"].errors["text"] == ["请填写投诉内容。"]
    response = client.post(reverse("workspace:teller"), {"account_number": account.number,
                                                         "event_type": "info_changed"})  # fmt: skip
    assert response.context["form"].errors["changed_fields"]
    assert not AccountEvent.objects.exists()


def test_accounts_of_other_branches_are_not_found(client, teller, other_account):
    client.force_login(teller)
    response = client.post(
        reverse("workspace:teller"),
        {"account_number": other_account.number, "event_type": "complaint", "text": "x"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["account_number"] == ["未找到该账号（仅限本网点账户）。"]
    assert not AccountEvent.objects.exists() and not Visit.objects.exists()


def test_only_tellers_use_the_page(client, agent):
    client.force_login(agent)
    assert client.get(reverse("workspace:teller")).status_code == 403
