"""Separation of duties: nobody changes their own groups, permissions or superuser flag; role
and group changes go through the access service (duty matrix, audit entry with the actor)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.access import DutyViolation, user_access_change
from core.models import AuditLogEntry

pytestmark = [pytest.mark.django_db, pytest.mark.spec("6.login")]

User = get_user_model()


def _change_form_data(client, user) -> dict:
    """The admin's user change form as the browser would post it unchanged."""
    response = client.get(reverse("admin:auth_user_change", args=[user.pk]))
    assert response.status_code == 200
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        if field.disabled or name == "password":
            continue
        value = form[name].value()
        if isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    for name in ("date_joined", "last_login"):
        moment = getattr(user, name)
        if moment is not None:
            data[f"{name}_0"], data[f"{name}_1"] = moment.strftime("%Y-%m-%d"), "10:00:00"
    return data


def _post(client, user, data):
    return client.post(reverse("admin:auth_user_change", args=[user.pk]), data)


def test_it_refuses_a_security_administrator_promoting_itself(client, security_admin):
    client.force_login(security_admin)
    data = _change_form_data(client, security_admin)
    data["is_superuser"] = "on"
    data["groups"] = [str(Group.objects.get(name="administrator").pk)]
    _post(client, security_admin, data)
    security_admin.refresh_from_db()
    assert security_admin.is_superuser is False
    assert list(security_admin.groups.values_list("name", flat=True)) == ["security_admin"]


def test_it_changes_another_users_role_through_the_service_with_the_actor(
    client, security_admin, agent
):
    client.force_login(security_admin)
    data = _change_form_data(client, agent)
    data["groups"] = [str(Group.objects.get(name="teller").pk)]
    response = _post(client, agent, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    agent.refresh_from_db()
    assert agent.profile.role == "teller"
    assert list(agent.groups.values_list("name", flat=True)) == ["teller"]
    entry = AuditLogEntry.objects.get(action="user.access_change")
    assert entry.actor == security_admin and entry.object_id == str(agent.pk)
    assert entry.before["groups"] == ["agent"] and entry.after["groups"] == ["teller"]


@pytest.mark.parametrize(
    "groups,superuser",
    [
        (["administrator", "audit_admin"], False),
        (["security_admin", "administrator"], False),
        (["agent"], True),
    ],
)
def test_it_refuses_changes_against_the_duty_matrix(
    client, security_admin, agent, groups, superuser
):
    client.force_login(security_admin)
    data = _change_form_data(client, agent)
    data["groups"] = [str(Group.objects.get(name=name).pk) for name in groups]
    if superuser:
        data["is_superuser"] = "on"
    response = _post(client, agent, data)
    assert response.status_code == 200 and response.context["adminform"].form.errors
    agent.refresh_from_db()
    assert not agent.is_superuser and agent.profile.role == "agent"
    assert not AuditLogEntry.objects.filter(action="user.access_change").exists()


def test_only_the_security_administrator_manages_access(administrator, audit_admin, agent):
    teller = [Group.objects.get(name="teller")]
    for actor in (administrator, audit_admin, agent):
        with pytest.raises(DutyViolation):
            user_access_change(actor=actor, user=agent, groups=teller)
    with pytest.raises(DutyViolation):
        user_access_change(actor=agent, user=agent, groups=teller)
    agent.refresh_from_db()
    assert agent.profile.role == "agent"
