"""Login hardening: lockout, the second factor, password age, separation of duties, and a
clean `check --deploy` in production settings."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from django_otp.oath import totp

from accounts.models import StaffProfile
from accounts.otp import confirmed_device, demo_device
from core.models import AuditLogEntry
from tests.fixtures import PASSWORD

REQUIRE_2FA = {**settings.CALLBACK, "REQUIRE_2FA": True}
DEMO_SECRET = "JBSWY3DPEHPK3PXP"


def _token(device) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.mark.spec("6.login")
@override_settings(AXES_ENABLED=True)
def test_it_locks_an_account_after_five_failures(client, agent):
    for _ in range(5):
        client.post(reverse("login"), {"username": "agent1", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "agent1", "password": PASSWORD})
    assert response.status_code in (403, 429)
    assert "_auth_user_id" not in client.session
    assert AuditLogEntry.objects.filter(action="auth.login_fail").count() >= 5
    assert AuditLogEntry.objects.filter(action="auth.lock_out").exists()


@pytest.mark.spec("6.login")
@override_settings(AXES_ENABLED=True)
def test_it_lets_the_user_in_again_after_fifteen_minutes(client, agent, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC))
    for _ in range(5):
        client.post(reverse("login"), {"username": "agent1", "password": "wrong"})
    time_machine.move_to(dt.datetime(2026, 11, 2, 9, 16, tzinfo=dt.UTC))
    response = client.post(reverse("login"), {"username": "agent1", "password": PASSWORD})
    assert response.status_code == 302 and "_auth_user_id" in client.session


@pytest.mark.spec("6.login")
@override_settings(CALLBACK=REQUIRE_2FA)
def test_it_sends_a_supervisor_without_a_device_to_the_setup_page(client, supervisor, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC))
    client.force_login(supervisor)
    response = client.get(reverse("supervision:audit_log"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("security:otp_setup"))
    setup = client.get(response["Location"])
    assert setup.status_code == 200 and setup.context["config_url"].startswith("otpauth://totp/")
    device = supervisor.totpdevice_set.get(confirmed=False)
    bad = client.post(reverse("security:otp_setup"), {"token": "000000"})
    assert bad.status_code == 400
    time_machine.move_to(dt.datetime(2026, 11, 2, 9, 1, tzinfo=dt.UTC))  # after the throttle
    done = client.post(
        reverse("security:otp_setup"), {"token": _token(device), "next": "/supervision/audit-log/"}
    )
    assert done.status_code == 302 and done["Location"] == "/supervision/audit-log/"
    assert client.get(reverse("supervision:audit_log")).status_code == 200
    assert confirmed_device(supervisor) is not None


@pytest.mark.spec("6.login")
@override_settings(CALLBACK=REQUIRE_2FA)
def test_it_asks_a_user_with_a_device_for_the_code_and_not_agents(client, supervisor, agent):
    device = demo_device(supervisor, DEMO_SECRET)
    client.force_login(supervisor)
    response = client.get(reverse("supervision:audit_log"))
    assert response["Location"].startswith(reverse("security:otp_verify"))
    assert client.post(reverse("security:otp_verify"), {"token": "12345"}).status_code == 400
    client.post(reverse("security:otp_verify"), {"token": _token(device)})
    assert client.get(reverse("supervision:audit_log")).status_code == 200
    client.force_login(agent)
    assert client.get(reverse("workspace:worklist")).status_code == 200


@pytest.mark.spec("6.login")
def test_it_sends_a_user_with_an_old_password_to_change_it(client, agent, settings):
    settings.CALLBACK = {**settings.CALLBACK, "PASSWORD_MAX_AGE_DAYS": 90}
    StaffProfile.objects.filter(user=agent).update(
        password_changed_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    client.force_login(agent)
    response = client.get(reverse("workspace:worklist"))
    assert response["Location"].startswith(reverse("security:password_change"))
    weak = client.post(
        reverse("security:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "alllowercase",
            "new_password2": "alllowercase",
        },
    )
    assert weak.status_code == 400 and "new_password2" in weak.context["form"].errors
    new = "Changed-Pass-2026!"
    client.post(
        reverse("security:password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    agent.profile.refresh_from_db()
    assert agent.profile.password_changed_at.year >= 2026
    assert client.get(reverse("workspace:worklist")).status_code == 200


@pytest.mark.spec("6.login")
def test_it_separates_the_three_administrators(administrator, security_admin, audit_admin):
    assert security_admin.has_perm("auth.change_user")
    assert not security_admin.has_perm("core.view_auditlogentry")
    assert not security_admin.has_perm("visits.change_visitpolicy")
    assert administrator.has_perm("visits.change_visitpolicy")
    assert not administrator.has_perm("auth.add_user")
    assert audit_admin.has_perm("core.view_auditlogentry")
    assert not audit_admin.has_perm("auth.change_user")
    assert not audit_admin.has_perm("visits.change_visitpolicy")


@pytest.mark.spec("6.login")
def test_it_passes_check_deploy_in_production_settings():
    root = Path(__file__).resolve().parents[2]
    env = {
        # Browser tests in this process set DJANGO_ALLOW_ASYNC_UNSAFE, which check --deploy
        # rightly refuses: the check must see a production process's environment.
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_ENV": "production",
        "DJANGO_SETTINGS_MODULE": "callback_admin.settings",
        "SECRET_KEY": "x" * 20 + "production-secret-key-for-the-check-only-0123456789",
        "ALLOWED_HOSTS": "callback.bank.example",
        "FIELD_ENCRYPTION_KEYS": "avcUpuujp7m-E8azTHh6WdXWdbicVD6RI9u7xlqCQOQ=",
        "BLIND_INDEX_KEY": "b" * 40,
        "AUDIT_CHAIN_KEYS": "a" * 40,
        "DATABASE_URL": f"sqlite:///{root / 'var' / 'deploy-check.sqlite3'}",
        "METRICS_TOKEN": "m" * 40,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
