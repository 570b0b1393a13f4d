"""Passwords: no reuse of the current one or of the last five, and no common word dressed up
with capitals, digits and symbols."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from accounts.models import PasswordHistory
from tests.fixtures import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.spec("6.login")]


def _codes(password, user=None) -> set[str]:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return {error.code for error in exc.error_list}
    return set()


@pytest.mark.parametrize(
    "password", ["Password123!", "P@ssw0rd-2026", "Welcome#2026", "Qwerty-12345", "Admin-2026!"]
)
def test_it_refuses_a_common_word_dressed_up(password):
    assert "password_common_pattern" in _codes(password)


def test_it_accepts_an_uncommon_password(agent):
    assert _codes("Lantern-Vivid-Osprey-42", agent) == set()


def test_it_refuses_the_current_password_and_the_last_five(agent):
    assert "password_reused" in _codes(PASSWORD, agent)
    used = [f"Harbor-Maple-{n}-Quiet!" for n in range(6)]
    for password in used:
        agent.set_password(password)
        agent.save()
    assert PasswordHistory.objects.filter(user=agent).count() == 5
    for password in used[1:]:  # the current one and the four before it, plus...
        assert "password_reused" in _codes(password, agent)
    assert "password_reused" in _codes(used[0], agent)  # ...the fifth before the current one
    assert "password_reused" not in _codes(PASSWORD, agent)  # six changes ago: allowed again
