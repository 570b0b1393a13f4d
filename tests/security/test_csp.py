"""Content-Security-Policy: a strict header on every page, and templates that need no inline
script or style (the browser tests fail on any CSP violation in the console)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = [pytest.mark.django_db]

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def test_it_sends_a_strict_policy_with_every_page(client, agent):
    for response in (client.get(reverse("login")), client.get("/complaint/")):
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    client.force_login(agent)
    assert "Content-Security-Policy" in client.get(reverse("workspace:worklist"))


@pytest.mark.parametrize(
    "pattern",
    [
        r"<script(?![^>]*\bsrc=)[^>]*>",  # an inline script
        r"<style\b",  # an inline style sheet
        r"\sstyle=\"",  # a style attribute
        r"\son[a-z]+=\"",  # an inline event handler
    ],
)
def test_no_template_needs_inline_script_or_style(pattern):
    offenders = [
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if re.search(pattern, path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
