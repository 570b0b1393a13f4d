"""Revealing personal data: an agent only for its own visits, anyone else with a stated reason;
rate-limited per hour, with an alert to the security administrators past a threshold."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from core.models import AuditLogEntry, Notification
from tests.factories import VisitFactory
from visits.models import VisitStatus

pytestmark = [pytest.mark.django_db, pytest.mark.spec("6.personal-data")]


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


def _reveal(client, visit, **data):
    return client.post(reverse("workspace:reveal", args=[visit.pk]), data)


def test_an_agent_reveals_only_its_own_visits(client, account, agent):
    colleague_visit = VisitFactory(
        account=account, kind="special_event", status=VisitStatus.PENDING
    )
    own = VisitFactory(account=account, status=VisitStatus.ASSIGNED, assigned_to=agent)
    client.force_login(agent)
    assert _reveal(client, colleague_visit).status_code == 404
    assert _reveal(client, own).status_code == 200
    assert AuditLogEntry.objects.filter(action="pii.reveal").count() == 1


def test_a_supervisor_states_a_reason(client, account, agent, supervisor):
    visit = VisitFactory(account=account, status=VisitStatus.ASSIGNED, assigned_to=agent)
    client.force_login(supervisor)
    assert _reveal(client, visit).status_code == 400
    assert not AuditLogEntry.objects.filter(action="pii.reveal").exists()
    assert _reveal(client, visit, reason="客户投诉核实").status_code == 200
    entry = AuditLogEntry.objects.get(action="pii.reveal")
    assert entry.after["reason"] == "客户投诉核实" and entry.actor == supervisor


def test_it_alerts_past_the_threshold_and_stops_at_the_limit(
    client, account, agent, security_admin, settings
):
    settings.CALLBACK = {
        **settings.CALLBACK,
        "REVEAL_ALERT_PER_HOUR": 3,
        "REVEAL_LIMIT_PER_HOUR": 5,
    }
    visit = VisitFactory(account=account, status=VisitStatus.ASSIGNED, assigned_to=agent)
    client.force_login(agent)
    codes = [_reveal(client, visit).status_code for _ in range(3)]
    assert codes == [200] * 3 and not Notification.objects.filter(user=security_admin).exists()
    codes = [_reveal(client, visit).status_code for _ in range(4)]
    assert codes == [200, 200, 429, 429]
    notice = Notification.objects.get(user=security_admin)  # once, not per reveal
    assert agent.username in notice.message
    assert AuditLogEntry.objects.filter(action="pii.reveal").count() == 5
