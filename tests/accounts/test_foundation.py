import subprocess
import sys

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from accounts.models import Customer
from tests.factories import VisitFactory
from visits.access import visits_visible_to

pytestmark = pytest.mark.django_db


@pytest.mark.spec("6.pii")
def test_it_stores_no_plaintext_personal_data(customer):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_number, mobile, landline, address FROM accounts_customer WHERE id = %s",
            [customer.pk],
        )
        raw = cursor.fetchone()
    for value, plain in zip(
        raw, ["110101199003074514", "13800138000", "010-12345678", "北京市东城区"], strict=True
    ):
        assert plain not in value
        assert value.startswith("enc1:")
    fresh = Customer.objects.get(pk=customer.pk)
    assert fresh.id_number == "110101199003074514"
    assert fresh.masked_id_number == "110101********4514"
    assert fresh.masked_mobile == "138****8000"


@pytest.mark.spec("6.pii")
def test_it_finds_customers_by_id_number_and_mobile_through_the_blind_index(customer):
    assert list(Customer.objects.by_id_number("110101199003074514")) == [customer]
    assert list(Customer.objects.by_id_number(" 110101199003074514 ")) == [customer]
    assert list(Customer.objects.by_mobile("13800138000")) == [customer]
    assert not Customer.objects.by_mobile("13900139000").exists()


@pytest.mark.spec("1.scope")
def test_it_scopes_visits_to_the_branches_granted(agent, other_agent, account, other_account):
    mine = VisitFactory(account=account)
    theirs = VisitFactory(account=other_account)
    assert list(visits_visible_to(agent)) == [mine]
    assert list(visits_visible_to(other_agent)) == [theirs]


@pytest.mark.spec("1.scope")
def test_it_shows_the_administrator_every_branch(administrator, account, other_account):
    VisitFactory(account=account)
    VisitFactory(account=other_account)
    assert visits_visible_to(administrator).count() == 2


def test_it_serves_the_login_page_in_chinese_and_english(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "登录" in response.content.decode()
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Log in" in response.content.decode()


def test_it_sends_anonymous_users_to_login(client):
    response = client.get(reverse("workspace:worklist"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_it_reports_health_without_authentication(client):
    # June: no calendar warning yet (it starts on 1 November, see tests/api/test_year_end.py).
    with time_machine.travel("2026-06-01T10:00:00+08:00", tick=False):
        response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "calendar": "ok"}


def test_it_expires_sessions_after_inactivity(settings):
    assert settings.SESSION_COOKIE_AGE == 15 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True


@pytest.mark.parametrize(
    "env",
    [
        {"DJANGO_ENV": "production", "DEBUG": "true", "SECRET_KEY": "x" * 60},
        {"DJANGO_ENV": "production", "DEBUG": "false"},
    ],
)
def test_it_refuses_to_start_in_production_with_debug_or_the_default_key(env):
    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='callback_admin.settings'; django.setup()"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
