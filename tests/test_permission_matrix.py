"""The permission matrix: every role against every page of the product.

Every named URL of the project must appear in PAGES (a test fails when a new page is added
without its row). For each page and role the expected answer is listed; roles not listed get
403. Object pages are also opened by an *outsider* of an allowed role (staff of the Shanghai
branch, or of another department) who must get 404: removing the scoping from any of these
views makes this test fail. Lists are checked for not showing the Beijing data to outsiders.
"""

import datetime as dt

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import Role
from accounts.services import staff_create
from core.models import AuditLogEntry, Notification
from escalations.models import Escalation, Urgency
from supervision.models import (
    AuditReview,
    AuditSample,
    AuditSampleItem,
    Complaint,
    CorrectiveAction,
    DestructionList,
)
from tests.factories import AccountFactory, CustomerFactory, DepartmentFactory, VisitFactory
from tests.fixtures import PASSWORD
from visits.models import ContactAttempt, VisitRecord, VisitStatus

ROLES = [r.value for r in Role]

# Pages outside the matrix on purpose: Django's own (admin, language switch, logout), the
# machine endpoints (API: tests/api covers them with keys and scopes; /metrics: tests/ops).
EXCLUDED_PREFIXES = ("admin:", "api-", "set_language", "logout", "metrics")

STAFF_PAGES_FOR_ALL = set(ROLES)


def _page(name, roles, *, kwargs=None, outsider=None, method="get", anonymous=302):
    return {
        "name": name,
        "roles": set(roles),
        "kwargs": kwargs or (lambda w: {}),
        "outsider": outsider,
        "method": method,
        "anonymous": anonymous,
    }


AGENT, TELLER, HANDLER, SUPERVISOR = Role.AGENT, Role.TELLER, Role.HANDLER, Role.SUPERVISOR
ADMIN, SECADMIN, AUDITOR = Role.ADMINISTRATOR, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN

PAGES = [
    # Every logged-in user lands somewhere (302 to the role's landing page).
    _page("home", []),
    _page("login", ROLES, anonymous=200),
    # Agent workspace
    _page("workspace:worklist", [AGENT, SUPERVISOR]),
    _page("workspace:claim_next", [AGENT], method="post"),
    _page(
        "workspace:call_screen",
        [AGENT, SUPERVISOR],
        kwargs=lambda w: {"pk": w["visit"].pk},
        outsider="other_agent",
    ),
    _page(
        "workspace:reveal",
        [AGENT, SUPERVISOR, TELLER],
        kwargs=lambda w: {"pk": w["visit"].pk},
        outsider="other_agent",
        method="post",
    ),
    _page(
        "workspace:attempt",
        [AGENT],
        kwargs=lambda w: {"pk": w["visit"].pk},
        outsider="other_agent",
        method="post",
    ),
    _page(
        "workspace:record",
        [AGENT],
        kwargs=lambda w: {"pk": w["visit"].pk},
        outsider="other_agent",
        method="post",
    ),
    _page(
        "workspace:record_draft",
        [AGENT],
        kwargs=lambda w: {"pk": w["visit"].pk},
        outsider="other_agent",
        method="post",
    ),
    _page("session_keepalive", ROLES, method="post", anonymous=401),
    _page("records:list", [AGENT, SUPERVISOR]),
    _page("workspace:teller", [TELLER]),
    # Public pages for customers and the SMS gateway: no login.
    _page(
        "public:questionnaire",
        ROLES,
        kwargs=lambda w: {"token": "not-a-valid-token"},
        anonymous=410,
    ),
    _page("public:sms_callback", ROLES, method="post", anonymous=401),
    _page("public_complaints:new", ROLES, anonymous=200),
    # Escalations
    _page("escalations:inbox", [AGENT, HANDLER, SUPERVISOR]),
    _page(
        "escalations:detail",
        [AGENT, HANDLER, SUPERVISOR],
        kwargs=lambda w: {"pk": w["escalation"].pk},
        outsider="other_handler",
    ),
    _page(
        "escalations:act",
        [AGENT, HANDLER, SUPERVISOR],
        kwargs=lambda w: {"pk": w["escalation"].pk, "action": "accept"},
        outsider="other_handler",
        method="post",
    ),
    _page(
        "escalations:open",
        [AGENT, SUPERVISOR],
        kwargs=lambda w: {"visit_pk": w["visit"].pk},
        outsider="other_agent",
    ),
    _page("escalations:stats", [SUPERVISOR]),
    _page("escalations:notifications", ROLES),
    _page("escalations:notifications_read_all", ROLES, method="post"),
    _page(
        "escalations:notification_open",
        ROLES,
        kwargs=lambda w: {"pk": w["notification"].pk},
        method="post",
    ),
    # Supervision
    _page("supervision:dashboard", [SUPERVISOR]),
    _page("supervision:samples", [SUPERVISOR]),
    _page(
        "supervision:sample",
        [SUPERVISOR],
        kwargs=lambda w: {"pk": w["sample"].pk},
        outsider="other_supervisor",
    ),
    _page(
        "supervision:sample_open",
        [SUPERVISOR],
        kwargs=lambda w: {"pk": w["sample"].pk},
        outsider="other_supervisor",
        method="post",
    ),
    _page(
        "supervision:review",
        [SUPERVISOR],
        kwargs=lambda w: {"pk": w["item"].pk},
        outsider="other_supervisor",
    ),
    _page("supervision:my_actions", [AGENT]),
    _page(
        "supervision:action_acknowledge",
        [AGENT],
        kwargs=lambda w: {"pk": w["action"].pk},
        outsider="other_agent",
        method="post",
    ),
    _page("supervision:complaints", [SUPERVISOR]),
    _page("supervision:complaint_new", [SUPERVISOR, TELLER]),
    _page(
        "supervision:complaint",
        [SUPERVISOR],
        kwargs=lambda w: {"pk": w["complaint"].pk},
        outsider="other_supervisor",
    ),
    _page("supervision:training", [SUPERVISOR]),
    _page("supervision:assessments", [SUPERVISOR]),
    _page("supervision:export", [SUPERVISOR], kwargs=lambda w: {"name": "visits", "fmt": "csv"}),
    _page("supervision:audit_log", [SUPERVISOR, AUDITOR]),
    # Records integrity and security
    _page(
        "records:detail",
        [AGENT, SUPERVISOR],
        kwargs=lambda w: {"pk": w["record"].pk},
        outsider="other_agent",
    ),
    _page(
        "records:amend",
        [AGENT, SUPERVISOR],
        kwargs=lambda w: {"pk": w["record"].pk},
        outsider="other_agent",
    ),
    _page("records:destruction_lists", [SUPERVISOR]),
    _page(
        "records:destruction_detail",
        [SUPERVISOR],
        kwargs=lambda w: {"pk": w["destruction_list"].pk},
    ),
    _page(
        "records:destruction_act",
        [SUPERVISOR],
        kwargs=lambda w: {"pk": w["destruction_list"].pk, "action": "approve"},
        method="post",
    ),
    _page("security:otp_setup", ROLES),
    _page("security:otp_verify", ROLES),
    _page("security:password_change", ROLES),
]
PAGE_NAMES = {p["name"] for p in PAGES}


def _named_urls(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}{pattern.namespace}:"
            yield from _named_urls(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


def test_it_lists_every_page_of_the_project_in_the_matrix():
    names = {
        n for n in _named_urls(get_resolver().url_patterns) if not n.startswith(EXCLUDED_PREFIXES)
    }
    assert names - PAGE_NAMES == set(), "add these pages to the permission matrix"
    assert PAGE_NAMES - names == set(), "these matrix rows name pages that no longer exist"


@pytest.fixture
def world(db, branch, other_branch, security_dept, agent, teller, handler, supervisor):
    """Beijing staff of every role, Shanghai outsiders, and one object of each kind."""
    users = {
        AGENT: agent,
        TELLER: teller,
        HANDLER: handler,
        SUPERVISOR: supervisor,
        ADMIN: staff_create(username="m-admin", password=PASSWORD, role=ADMIN),
        SECADMIN: staff_create(username="m-secadmin", password=PASSWORD, role=SECADMIN),
        AUDITOR: staff_create(username="m-auditor", password=PASSWORD, role=AUDITOR),
        "other_agent": staff_create(
            username="m-outsider", password=PASSWORD, role=AGENT, branches=[other_branch]
        ),
        "other_supervisor": staff_create(
            username="m-outsider-sup", password=PASSWORD, role=SUPERVISOR, branches=[other_branch]
        ),
        "other_handler": staff_create(
            username="m-outsider-handler",
            password=PASSWORD,
            role=HANDLER,
            departments=[DepartmentFactory(code="cards", name="银行卡部")],
        ),
    }
    customer = CustomerFactory(branch=branch, name="欧阳明月")
    account = AccountFactory(customer=customer)
    visit = VisitFactory(
        account=account, status=VisitStatus.ASSIGNED, assigned_to=agent, kind="special_event"
    )
    done = VisitFactory(
        account=account,
        status=VisitStatus.COMPLETED,
        assigned_to=agent,
        completed_at=timezone.now(),
    )
    ContactAttempt.objects.create(visit=done, channel="phone", agent=agent, outcome="reached")
    record = VisitRecord.objects.create(
        visit=done,
        channel="phone",
        submitted_by=agent,
        reminder_anti_fraud=True,
        reminder_safe_operation=True,
        satisfaction=4,
    )
    escalation = Escalation.objects.create(
        visit=visit,
        account=account,
        department=security_dept,
        urgency=Urgency.NORMAL,
        description="客户否认一笔交易",
        deadline_at=timezone.now() + dt.timedelta(days=1),
        opened_by=agent,
    )
    today = timezone.localdate()
    sample = AuditSample.objects.create(
        period_start=today.replace(day=1), period_end=today, seed=42, created_by=supervisor
    )
    item = AuditSampleItem.objects.create(sample=sample, record=record, agent=agent)
    review = AuditReview.objects.create(
        item=item,
        reviewer=supervisor,
        record_complete="yes",
        identity_stated="no",
        script_followed="yes",
        reminders_given="yes",
        handled_in_time="yes",
        escalation_justified="yes",
        score=80,
        findings="未表明身份",
        finished_at=timezone.now(),
    )
    action = CorrectiveAction.objects.create(
        review=review, agent=agent, description="通话开始先表明身份", due_on=today
    )
    complaint = Complaint.objects.create(
        source="hotline",
        customer=customer,
        visit=done,
        agent=agent,
        branch=branch,
        text="回访人员态度不好",
        registered_by=teller,
    )
    destruction_list = DestructionList.objects.create(created_by=supervisor)
    objects = {
        "visit": visit,
        "record": record,
        "escalation": escalation,
        "sample": sample,
        "item": item,
        "action": action,
        "complaint": complaint,
        "destruction_list": destruction_list,
        "customer": customer,
    }
    return users, objects


def _notification_for(user):
    return Notification.objects.create(user=user, message="测试通知", link="/")


def _call(client, page, objects):
    url = reverse(page["name"], kwargs=page["kwargs"](objects))
    return client.post(url) if page["method"] == "post" else client.get(url)


@pytest.mark.spec("1.permissions")
@pytest.mark.parametrize("page", PAGES, ids=[p["name"] for p in PAGES])
def test_it_answers_each_role_as_the_matrix_says(client, world, page):
    # One world per page, every role in turn (building the world per role is 8x slower).
    users, objects = world
    wrong = []
    for role in ROLES:
        user = users[role]
        client.force_login(user)
        status = _call(
            client, page, {**objects, "notification": _notification_for(user)}
        ).status_code
        if page["name"] == "home":
            ok = status == 302
        elif role in page["roles"]:
            ok = status not in (403, 404, 405, 500)
        else:
            ok = status == 403
        if not ok:
            wrong.append(f"{role}: {status}")
        client.logout()
    assert wrong == [], f"{page['name']} answered against the matrix: {wrong}"


@pytest.mark.spec("1.permissions")
@pytest.mark.parametrize(
    "page", [p for p in PAGES if p["outsider"]], ids=[p["name"] for p in PAGES if p["outsider"]]
)
def test_it_hides_objects_from_outsiders_with_404(client, world, page):
    users, objects = world
    client.force_login(users[page["outsider"]])
    assert _call(client, page, objects).status_code == 404


@pytest.mark.spec("1.permissions")
@pytest.mark.parametrize("page", PAGES, ids=[p["name"] for p in PAGES])
def test_it_answers_anonymous_visitors(client, world, page):
    users, objects = world
    objects = {**objects, "notification": _notification_for(users[AGENT])}
    response = _call(client, page, objects)
    assert response.status_code == page["anonymous"]
    if page["anonymous"] == 302:
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.spec("1.permissions")
@pytest.mark.parametrize(
    "name,role",
    [
        ("workspace:worklist", "other_agent"),
        ("escalations:inbox", "other_handler"),
        ("supervision:complaints", "other_supervisor"),
        ("supervision:dashboard", "other_supervisor"),
    ],
)
def test_it_keeps_lists_free_of_other_branches_data(client, world, name, role):
    users, objects = world
    client.force_login(users[role])
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert "欧阳明月" not in response.content.decode()
    assert "客户否认一笔交易" not in response.content.decode()


# --- The Django admin: administrators only, scoped like the product, personal data logged ---

ADMIN_ROLES = {ADMIN, SECADMIN, AUDITOR}
# object key in the world -> (admin URL name, whether the page shows personal data)
ADMIN_PAGES = {
    "customer": ("accounts_customer", True),
    "account": ("accounts_account", True),
    "visit": ("visits_visit", True),
    "record": ("visits_visitrecord", True),
    "escalation": ("escalations_escalation", True),
    "item": ("supervision_auditsampleitem", False),
    "review": ("supervision_auditreview", False),
    "action": ("supervision_correctiveaction", False),
    "complaint": ("supervision_complaint", True),
    "branch": ("accounts_branch", False),
    "attendance": ("supervision_trainingattendance", False),
    "assessment": ("supervision_monthlyassessment", False),
}


@pytest.fixture
def admin_world(world, branch, other_branch, agent):
    """The world plus a training attendance and an assessment of its Beijing agent, and an
    administrator of the Shanghai branch only (view permissions, no global branch scope)."""
    from django.contrib.auth.models import Permission

    from accounts.permissions import grant_branch
    from supervision.models import MonthlyAssessment, TrainingAttendance, TrainingCourse

    users, objects = world
    course = TrainingCourse.objects.create(name="反诈骗话术", hours=2)
    objects = {
        **objects,
        "account": objects["visit"].account,
        "review": objects["item"].review,
        "branch": branch,
        "attendance": TrainingAttendance.objects.create(
            course=course, agent=agent, attended_on=timezone.localdate(), hours=2, passed=True
        ),
        "assessment": MonthlyAssessment.objects.create(
            month=timezone.localdate().replace(day=1), agent=agent
        ),
    }
    scoped = staff_create(username="m-sh-admin", password=PASSWORD, role=ADMIN)
    scoped.groups.clear()
    scoped.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    grant_branch(scoped, other_branch)
    users = {**users, "scoped_admin": scoped}
    return users, objects


def _admin_change(name, obj):
    return reverse(f"admin:{name}_change", args=[obj.pk])


@pytest.mark.spec("1.permissions")
def test_it_lets_only_the_three_administrators_into_the_admin(client, world):
    users, objects = world
    wrong = []
    for role in ROLES:
        client.force_login(users[role])
        index = client.get(reverse("admin:index")).status_code
        page = client.get(_admin_change("accounts_account", objects["visit"].account)).status_code
        expected_index = 200 if role in ADMIN_ROLES else 302  # to the admin's login
        if index != expected_index or (role not in ADMIN_ROLES and page == 200):
            wrong.append(f"{role}: index {index}, account page {page}")
        client.logout()
    assert wrong == []


@pytest.mark.spec("1.permissions")
@pytest.mark.parametrize("key", list(ADMIN_PAGES))
def test_it_hides_other_branches_objects_in_the_admin_with_404(client, admin_world, key):
    users, objects = admin_world
    name, _ = ADMIN_PAGES[key]
    client.force_login(users["scoped_admin"])
    assert client.get(_admin_change(name, objects[key])).status_code == 404
    listing = client.get(reverse(f"admin:{name}_changelist"))
    assert listing.status_code == 200
    assert objects[key].pk not in [row.pk for row in listing.context["cl"].result_list]


@pytest.mark.spec("1.permissions")
@pytest.mark.parametrize("key", list(ADMIN_PAGES))
def test_it_audit_logs_admin_views_of_personal_data(client, admin_world, key):
    users, objects = admin_world
    name, personal = ADMIN_PAGES[key]
    client.force_login(users[ADMIN])
    before = AuditLogEntry.objects.filter(action="pii.reveal").count()
    assert client.get(_admin_change(name, objects[key])).status_code == 200
    logged = AuditLogEntry.objects.filter(action="pii.reveal").order_by("-pk")
    if personal:
        entry = logged.first()
        assert entry.actor == users[ADMIN] and entry.object_id == str(objects[key].pk)
        assert entry.after["via"] == "admin"
    else:
        assert logged.count() == before
