"""accounts.backends.StaffModelBackend: the session's user comes with their staff profile."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from accounts.backends import StaffModelBackend
from accounts.models import Role
from accounts.permissions import role_of
from tests.fixtures import PASSWORD

pytestmark = [pytest.mark.django_db]


def test_the_user_and_the_role_are_one_query(agent, django_assert_num_queries):
    with django_assert_num_queries(1):
        user = StaffModelBackend().get_user(agent.pk)
        assert role_of(user) == Role.AGENT


def test_a_user_without_a_profile_has_no_role_and_no_second_query(django_assert_num_queries):
    admin = get_user_model().objects.create_superuser("root", password=PASSWORD)
    client_user = get_user_model().objects.create_user("core-banking")
    with django_assert_num_queries(2):
        assert role_of(StaffModelBackend().get_user(admin.pk)) == Role.ADMINISTRATOR
        assert role_of(StaffModelBackend().get_user(client_user.pk)) is None


def test_an_inactive_or_missing_user_is_nobody(agent):
    agent.is_active = False
    agent.save()
    assert StaffModelBackend().get_user(agent.pk) is None
    assert StaffModelBackend().get_user(987654) is None


def test_signing_in_stores_this_backend(client, agent):
    # The login form authenticates through the listed backends; the session names this one.
    response = client.post("/login/", {"username": "agent1", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_backend"] == "accounts.backends.StaffModelBackend"
    assert "django.contrib.auth.backends.ModelBackend" not in settings.AUTHENTICATION_BACKENDS
