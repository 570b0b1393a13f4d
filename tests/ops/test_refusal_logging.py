"""A 403 is logged once, as one line without a traceback."""

import logging

import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_a_refused_page_logs_one_line_without_a_traceback(client, agent, caplog):
    client.force_login(agent)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get(reverse("supervision:dashboard"))
    assert response.status_code == 403
    refused = [r for r in caplog.records if r.name == "django.request"]
    assert len(refused) == 1
    assert refused[0].exc_info is None and "Forbidden" in refused[0].getMessage()
