"""The client address: X-Forwarded-For is believed only from a configured trusted proxy, for
the audit log and for the public complaint form's per-address limit alike."""

import pytest
from django.core.cache import cache
from django.test import RequestFactory, override_settings
from django.urls import reverse

from core.models import AuditLogEntry
from core.network import client_ip
from supervision.models import Complaint
from tests.fixtures import PASSWORD

pytestmark = [pytest.mark.django_db]


def _request(peer, forwarded=None):
    extra = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_it_ignores_x_forwarded_for_by_default():
    assert client_ip(_request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_it_ignores_x_forwarded_for_from_an_untrusted_peer():
    assert client_ip(_request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_it_takes_the_nearest_untrusted_hop_behind_a_trusted_proxy():
    # The client may put anything left of the address the proxy appended.
    assert client_ip(_request("10.0.0.5", "6.6.6.6, 198.51.100.7")) == "198.51.100.7"
    assert client_ip(_request("10.0.0.5", "198.51.100.7, 10.0.0.4")) == "198.51.100.7"
    assert client_ip(_request("10.0.0.5", "not-an-ip")) == "10.0.0.5"
    assert client_ip(_request("10.0.0.5")) == "10.0.0.5"


def test_it_records_the_peer_not_the_forged_header_in_the_login_audit(client, agent):
    client.post(
        reverse("login"),
        {"username": "agent1", "password": PASSWORD},
        REMOTE_ADDR="203.0.113.9",
        HTTP_X_FORWARDED_FOR="8.8.8.8",
    )
    entry = AuditLogEntry.objects.filter(action="auth.login").latest("pk")
    assert entry.ip == "203.0.113.9"


@override_settings(ROOT_URLCONF="tests.supervision.urls")
def test_it_does_not_let_a_rotated_header_bypass_the_complaint_form_limit(client, settings):
    cache.clear()
    settings.CALLBACK = {**settings.CALLBACK, "COMPLAINT_FORM_PER_IP_HOUR": 2}
    url = reverse("public_complaints:new")
    body = {"contact_name": "张先生", "contact_phone": "13800138000", "text": "回访电话太频繁"}
    codes = [
        client.post(
            url, body, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
        ).status_code
        for n in range(5)
    ]
    assert codes == [200, 200, 429, 429, 429]
    assert Complaint.objects.count() == 2
