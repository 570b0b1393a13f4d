"""One event writer: the teller page, a change reported on a call and an SMS reply "2" store
their events through visits.ingest.events_ingest, with the API's idempotency and audit entry."""

import pytest
import time_machine
from django.urls import reverse

from accounts.models import AccountEvent
from core.models import AuditLogEntry
from visits import ingest
from visits.models import Visit
from workspace.channels import sms
from workspace.models import SmsMessage
from workspace.services import info_change_follow_up, teller_event_register

from .workspace_helpers import CALL_TIME, open_visit

pytestmark = [pytest.mark.django_db, pytest.mark.spec("4.special-event")]


@pytest.fixture(autouse=True)
def _at_call_time():
    with time_machine.travel(CALL_TIME, tick=False):
        yield


@pytest.fixture
def writes(monkeypatch):
    """Every call of the one event writer: (event ids, created_by, audit action)."""
    calls = []
    real = ingest.events_ingest

    def spy(*, client, events, **kwargs):
        calls.append(
            ([e.event_id for e in events], kwargs.get("created_by"), kwargs.get("audit_action"))
        )
        return real(client=client, events=events, **kwargs)

    monkeypatch.setattr(ingest, "events_ingest", spy)
    return calls


def test_a_teller_event_goes_through_the_one_event_writer(writes, teller, account):
    event, visits = teller_event_register(
        teller=teller, account=account, event_type="complaint", text="柜台排队太久"
    )
    [(ids, by, action)] = writes
    assert ids == [event.event_id] and event.event_id.startswith("teller-")
    assert (by, action) == (teller, "event.register")
    assert (event.client, event.created_by, event.body_hash) == (None, teller, event.body_hash)
    assert event.body_hash  # hashed like an API event, for the idempotency check
    assert visits == list(Visit.objects.filter(account=account))
    entry = AuditLogEntry.objects.get(action="event.register")
    assert entry.actor == teller
    assert entry.after["201"] == 1 and entry.after["first_event_id"] == event.event_id
    assert entry.after["account"] == account.masked_number


def test_the_same_teller_form_sent_twice_stores_its_event_once(client, teller, account):
    client.force_login(teller)
    url = reverse("workspace:teller")
    event_id = client.get(url).context["form"]["event_id"].value()
    assert event_id.startswith("teller-")
    form = {"account_number": account.number, "event_type": "complaint", "text": "柜台排队太久",
            "event_id": event_id}  # fmt: skip
    first, again = client.post(url, form), client.post(url, form)
    assert first.status_code == again.status_code == 200
    event = AccountEvent.objects.get()
    assert event.event_id == event_id
    [visit] = Visit.objects.filter(account=account)
    assert first.context["result"]["visits"] == again.context["result"]["visits"] == [visit]
    assert visit.triggers.count() == 1
    answers = [e.after for e in AuditLogEntry.objects.filter(action="event.register")]
    assert [a.get("201", 0) for a in answers] == [1, 0]
    assert [a.get("200", 0) for a in answers] == [0, 1]
    # The next form shown is a new event.
    assert first.context["form"]["event_id"].value() != event_id


def test_the_same_teller_id_with_other_content_is_refused(client, teller, account):
    client.force_login(teller)
    url = reverse("workspace:teller")
    event_id = client.get(url).context["form"]["event_id"].value()
    form = {"account_number": account.number, "event_type": "complaint", "event_id": event_id}
    assert client.post(url, {**form, "text": "排队太久"}).status_code == 200
    refused = client.post(url, {**form, "text": "另一件事"})
    assert refused.status_code == 400
    assert "event_id" in str(refused.context["form"].non_field_errors())
    assert AccountEvent.objects.get().data["text"] == "排队太久"


def test_a_change_reported_on_a_call_goes_through_the_one_event_writer(writes, agent, account):
    info_change_follow_up(account=account, fields=["mobile"], by=agent, source="visit")
    [(ids, by, action)] = writes
    event = AccountEvent.objects.get()
    assert ids == [event.event_id] and event.event_id.startswith("visit-")
    assert (by, action, event.created_by) == (agent, "event.raise", agent)
    assert AuditLogEntry.objects.filter(action="event.raise", actor=agent).count() == 1


def test_an_sms_reply_2_goes_through_the_one_event_writer(writes, branch, account):
    visit = open_visit(branch, account=account, channel="sms")
    message = SmsMessage.objects.create(
        customer=account.customer, visit=visit, body="x", idempotency_key="t-1", status="sent",
        gateway_message_id="gw-1",
    )  # fmt: skip
    assert sms.sms_reply_apply(message=message, text="2") == sms.REPLY_WRONG
    [(ids, by, action)] = writes
    assert ids[0].startswith("sms-") and (by, action) == (None, "event.raise")
    assert AccountEvent.objects.get().data["reply"] == "2"
