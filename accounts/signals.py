"""Audit log of authentication events and of changes to user accounts.

Signals are used here only because logins and user changes happen inside Django and the admin,
not in our services (STYLE: business objects are audited by their services)."""

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from accounts.lockout import lockout_notice
from accounts.models import PasswordHistory, StaffProfile
from core.audit import audit
from core.audit_actions import AuditAction

User = get_user_model()
_TRACKED = ("username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser")


@receiver(user_logged_in, dispatch_uid="accounts.audit_login")
def audit_login(sender, request, user, **kwargs):
    audit(AuditAction.AUTH_LOGIN, actor=user, obj=user, request=request)


@receiver(user_logged_out, dispatch_uid="accounts.audit_logout")
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        audit(AuditAction.AUTH_LOGOUT, actor=user, obj=user, request=request)


def _known_user(username) -> "User | None":
    # What was typed in the user-name box is kept only when it names an account: a password
    # typed into the wrong box must not reach the append-only log.
    username = str(username or "")[:150]
    return User._default_manager.filter(username=username).first() if username else None


@receiver(user_login_failed, dispatch_uid="accounts.audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    user = _known_user(credentials.get("username"))
    audit(
        AuditAction.AUTH_LOGIN_FAIL,
        object_type="auth.user",
        object_id=user.pk if user is not None else "",
        after={"username": user.get_username()} if user is not None else {"known": False},
        request=request,
    )


@receiver(user_locked_out, dispatch_uid="accounts.audit_lockout")
def audit_lockout(sender, request, username=None, ip_address=None, **kwargs):
    user = _known_user(username)
    audit(
        AuditAction.AUTH_LOCK_OUT,
        object_type="auth.user",
        object_id=user.pk if user is not None else "",
        after={"username": user.get_username() if user is not None else None, "ip": ip_address},
        request=request,
    )
    if user is not None:
        lockout_notice(username=user.get_username())


@receiver(pre_save, sender=User, dispatch_uid="accounts.user_before")
def remember_user_before(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw or instance.pk is None:
        instance._audit_before = None
        return
    old = sender._base_manager.filter(pk=instance.pk).values(*_TRACKED, "password").first()
    instance._audit_before = old


@receiver(post_save, sender=User, dispatch_uid="accounts.user_audit")
def audit_user_change(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    after = {field: getattr(instance, field) for field in _TRACKED}
    if created:
        audit(AuditAction.USER_CREATE, obj=instance, after=after)
        return
    before = getattr(instance, "_audit_before", None) or {}
    changed_before = {k: v for k, v in before.items() if k != "password" and after.get(k) != v}
    changed_after = {k: after[k] for k in changed_before}
    password_changed = bool(before) and before.get("password") != instance.password
    if password_changed:
        changed_after["password"] = "changed"
        password_history_add(user=instance, encoded=before["password"])

        StaffProfile.objects.filter(user=instance).update(password_changed_at=timezone.now())
    if changed_after:
        audit(AuditAction.USER_CHANGE, obj=instance, before=changed_before, after=changed_after)


PASSWORD_HISTORY_KEEP = 5


def password_history_add(*, user, encoded: str) -> None:
    """Keep the password just replaced, and only the last few."""
    if not encoded:
        return
    PasswordHistory.objects.create(user=user, password=encoded)
    stale = PasswordHistory.objects.filter(user=user).values_list("pk", flat=True)[
        PASSWORD_HISTORY_KEEP:
    ]
    PasswordHistory.objects.filter(pk__in=list(stale)).delete()
