"""Lockout by username and address together, the page that says how long, the alert on
repeated lockouts, and failed-login names kept only when they name an account."""

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.test import override_settings
from django.urls import reverse

from accounts.lockout import minutes_remaining
from accounts.models import Role
from accounts.services import staff_create
from core.models import AuditLogEntry, Notification
from tests.fixtures import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.spec("6.login")]


def _fail(client, username, ip, times=5):
    for _ in range(times):
        client.post(reverse("login"), {"username": username, "password": "wrong"}, REMOTE_ADDR=ip)


@override_settings(AXES_ENABLED=True)
def test_it_locks_the_username_from_that_address_only(client, agent):
    _fail(client, "agent1", "203.0.113.9")
    locked = client.post(
        reverse("login"), {"username": "agent1", "password": PASSWORD}, REMOTE_ADDR="203.0.113.9"
    )
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    # Anonymous failures from one address do not lock the account out for everybody.
    ok = client.post(
        reverse("login"), {"username": "agent1", "password": PASSWORD}, REMOTE_ADDR="198.51.100.4"
    )
    assert ok.status_code == 302 and "_auth_user_id" in client.session


@override_settings(AXES_ENABLED=True, AXES_COOLOFF_TIME=0.5)
def test_it_says_how_many_minutes_are_left(client, agent, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC))
    _fail(client, "agent1", "203.0.113.9", times=4)
    response = client.post(
        reverse("login"), {"username": "agent1", "password": "wrong"}, REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 429
    assert response.context["minutes_remaining"] == 30
    body = response.content.decode()
    assert 'id="lockout-remaining"' in body and "30 分钟" in body
    assert 'id="error-page"' in body and "<header" in body  # in the product's layout
    # Left alone, the lock wears off: 10 min 30 s later, 19 min 30 s are left, shown as 20.
    time_machine.move_to(dt.datetime(2026, 11, 2, 9, 10, 30, tzinfo=dt.UTC))
    assert minutes_remaining(username="agent1", ip="203.0.113.9") == 20


@override_settings(AXES_ENABLED=True)
def test_it_alerts_the_security_administrator_on_repeated_lockouts(client, agent, security_admin):
    _fail(client, "agent1", "203.0.113.9")
    assert not Notification.objects.filter(user=security_admin).exists()  # once is not news
    _fail(client, "agent1", "198.51.100.4")
    assert AuditLogEntry.objects.filter(action="auth.lock_out").count() == 2
    notice = Notification.objects.get(user=security_admin)
    assert "agent1" in notice.message
    assert not Notification.objects.filter(user=agent).exists()


@override_settings(AXES_ENABLED=True)
def test_lifting_the_lockout_marks_the_lifters_notice_read(client, agent, security_admin):
    second = staff_create(username="secadmin2", password=PASSWORD, role=Role.SECURITY_ADMIN)
    _fail(client, "agent1", "203.0.113.9")
    _fail(client, "agent1", "198.51.100.4")
    assert Notification.objects.filter(read_at__isnull=True).count() == 2
    client.force_login(security_admin)
    attempts = list(AccessAttempt.objects.filter(username="agent1").values_list("pk", flat=True))
    response = client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="agent1").exists()
    assert Notification.objects.get(user=security_admin).read_at is not None
    assert Notification.objects.get(user=second).read_at is None  # has not acted


def test_it_keeps_the_typed_name_only_when_it_names_an_account(client, agent):
    # A password typed into the user-name box must not reach the append-only log.
    client.post(reverse("login"), {"username": "Hunter2-Secret!", "password": "x"})
    client.post(reverse("login"), {"username": "agent1", "password": "wrong"})
    unknown, known = AuditLogEntry.objects.filter(action="auth.login_fail").order_by("pk")
    assert "Hunter2" not in str(unknown.after) and "Hunter2" not in unknown.object_id
    assert known.after["username"] == "agent1" and known.object_id == str(agent.pk)
