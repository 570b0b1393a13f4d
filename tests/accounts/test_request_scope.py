"""The branch and department scope read once per request (accounts/request_scope.py): one
statement per request, never kept across requests, forgotten within a request when a grant
changes, and the same answer as guardian outside a request."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.permissions import (
    branch_ids_visible_to,
    branches_visible_to,
    departments_visible_to,
    grant_branch,
    grant_department,
    has_global_branch_scope,
    revoke_branch,
)
from accounts.request_scope import RequestScopeMiddleware
from tests.factories import BranchFactory, DepartmentFactory

pytestmark = [pytest.mark.django_db]


def _in_request(work):
    """``work()`` run as a view inside the middleware (one request's memo)."""
    return RequestScopeMiddleware(lambda request: work())(object())


def _scope_statements(captured) -> list[str]:
    """The memo's one statement (direct, group and global grants)."""
    return [q["sql"] for q in captured if q["sql"].startswith("SELECT p.codename")]


def _guardian_branch_lists(captured) -> list[str]:
    return [q["sql"] for q in captured if q["sql"].startswith('SELECT "accounts_branch"')]


def test_one_statement_per_request_whatever_is_asked(agent, branch):
    def asks():
        with CaptureQueriesContext(connection) as ctx:
            branches = list(branches_visible_to(agent))
            list(departments_visible_to(agent))
            ids = branch_ids_visible_to(agent)
            everywhere = has_global_branch_scope(agent)
            list(branches_visible_to(agent))
        return branches, ids, everywhere, ctx.captured_queries

    branches, ids, everywhere, captured = _in_request(asks)
    assert branches == [branch] and ids == [branch.pk] and everywhere is False
    assert len(_scope_statements(captured)) == 1
    # Outside a request guardian answers, as before: no memo.
    with CaptureQueriesContext(connection) as ctx:
        list(branches_visible_to(agent))
        list(branches_visible_to(agent))
    assert _scope_statements(ctx.captured_queries) == []
    assert len(_guardian_branch_lists(ctx.captured_queries)) == 2


def test_a_grant_counts_from_the_next_request(agent, branch, other_branch):
    assert _in_request(lambda: list(branches_visible_to(agent))) == [branch]
    grant_branch(agent, other_branch)  # between two requests
    assert set(_in_request(lambda: list(branches_visible_to(agent)))) == {branch, other_branch}
    revoke_branch(agent, other_branch)
    assert _in_request(lambda: list(branches_visible_to(agent))) == [branch]


def test_a_change_within_the_request_empties_its_memo(agent, branch, other_branch):
    def grant_then_ask():
        before = list(branches_visible_to(agent))
        grant_branch(agent, other_branch)
        middle = set(branches_visible_to(agent))
        revoke_branch(agent, branch)
        return before, middle, list(branches_visible_to(agent))

    before, middle, after = _in_request(grant_then_ask)
    assert before == [branch]
    assert middle == {branch, other_branch}
    assert after == [other_branch]


def test_groups_and_global_permissions_count_as_in_guardian(agent, branch, other_branch):
    third = BranchFactory(code="GZ001", name="广州分行")
    department = DepartmentFactory(code="risk", name="风险管理部")
    group = Group.objects.create(name="scope-test")
    grant_branch(group, other_branch)
    grant_department(group, department)
    agent.groups.add(group)

    def answers(user):
        return (
            set(branches_visible_to(user)),
            set(departments_visible_to(user)),
            has_global_branch_scope(user),
        )

    fresh = type(agent).objects.get(pk=agent.pk)  # no permission cache from an earlier ask
    assert _in_request(lambda: answers(agent)) == answers(fresh)
    assert _in_request(lambda: answers(agent))[0] == {branch, other_branch}
    group.permissions.add(Permission.objects.get(codename="access_branch"))
    fresh = type(agent).objects.get(pk=agent.pk)
    assert _in_request(lambda: answers(agent)) == answers(fresh)
    assert _in_request(lambda: answers(agent))[0] == {branch, other_branch, third}
    assert _in_request(lambda: has_global_branch_scope(agent)) is True


def test_a_page_reads_the_scope_once(client, supervisor):
    client.force_login(supervisor)
    client.get(reverse("supervision:dashboard"))
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("supervision:dashboard")).status_code == 200
    assert len(_scope_statements(ctx.captured_queries)) == 1
    # No separate read of the user's or the groups' permissions (ModelBackend) any more.
    assert not [
        q["sql"]
        for q in ctx.captured_queries
        if '"auth_user_user_permissions"' in q["sql"] or '"auth_group_permissions"' in q["sql"]
    ]
