"""The role groups and their model permissions, kept in code and applied after every migrate
(idempotent), so a new installation and an upgraded one have the same groups."""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from accounts.models import Role

_ALL_APPS = ("core", "accounts", "visits", "escalations", "workspace", "supervision")


def _perms(query: Q):
    return Permission.objects.filter(query)


def ensure_role_groups(**kwargs) -> None:
    app_perms = Q(content_type__app_label__in=_ALL_APPS)
    view = Q(codename__startswith="view_")
    config_models = Q(
        content_type__model__in=[
            "visitpolicy",
            "eventrule",
            "script",
            "calendarday",
            "calendaryear",
            "smstemplate",
            "questionnairequestion",
            "branch",
            "department",
            "certification",
            "staffprofile",
            "staffcertification",
            "trainingcourse",
            "serviceclient",
        ]
    )
    # Separation of duties (MLPS level 3): the system administrator configures, the security
    # administrator manages users, roles and login security, the audit administrator reads the
    # audit log. Nobody may add, change or delete audit-log entries or destruction certificates.
    audit_trail = (Q(content_type__app_label="core") & Q(content_type__model="auditlogentry")) | (
        Q(content_type__app_label="supervision")
        & Q(
            content_type__model__in=[
                "destructioncertificate",
                "destructionlist",
                "destructionlistitem",
            ]
        )
    )
    user_admin = Q(content_type__app_label__in=["auth", "otp_totp", "axes"]) | (
        Q(content_type__app_label="accounts")
        & Q(content_type__model__in=["staffprofile", "staffcertification"])
    )
    wanted = {
        Role.AGENT: Q(pk__in=[]),
        Role.TELLER: Q(pk__in=[]),
        Role.HANDLER: Q(pk__in=[]),
        # Supervisors work in the product's own pages (scoped there); the admin is for the
        # three administrators only.
        Role.SUPERVISOR: Q(pk__in=[]),
        # The system administrator configures; sees every branch; manages no users.
        Role.ADMINISTRATOR: (
            (app_perms & (view | config_models) & ~user_admin & ~audit_trail)
            | Q(content_type__app_label="django_celery_beat")
            | Q(codename__in=["access_branch", "access_department"])
        ),
        Role.SECURITY_ADMIN: user_admin,
        # The audit administrator reads the audit log and can change nothing.
        Role.AUDIT_ADMIN: (audit_trail & view)
        | Q(content_type__app_label="axes", codename__startswith="view_"),
    }
    for role, query in wanted.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        group.permissions.set(_perms(query))
