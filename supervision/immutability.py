"""Immutable records: the Python-level guard, and the one exception, the retention procedure.

On PostgreSQL the guarantee is in the database (pgtrigger triggers in the models' Meta: a
submitted VisitRecord, a finished AuditReview, a closed Escalation and every AuditLogEntry refuse
UPDATE and DELETE by any path, raw SQL included). The retention procedure alone may anonymise or
delete them: it sets ``SET LOCAL callback.retention = 'on'`` inside its transaction, which the
pgtrigger triggers check, and takes a retention token, which the plain triggers that no session
setting can switch off check (supervision/db_roles.py). On SQLite (the embedded default) the same rules are enforced by the signal
receivers below for saves and deletes through the ORM.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connections, transaction
from django.db.models.signals import pre_delete, pre_save
from django.dispatch import receiver

from core.models import AuditLogEntry
from escalations.models import Escalation, EscalationStatus
from supervision.db_roles import TOKEN_TABLE
from supervision.models import AuditReview
from visits.models import VisitRecord

_retention_active: ContextVar[bool] = ContextVar("retention_active", default=False)


class RecordImmutable(Exception):
    """A protected row was about to be changed or deleted."""


@contextmanager
def retention_procedure(using: str = "default", *, destruction_list_id: int | None = None):
    """The only way to change protected rows: inside one transaction, logged by the caller.

    On PostgreSQL the transaction takes a retention token (supervision/db_roles.py): through
    ``callback_retention_begin`` for an approved destruction list, which is all the runtime role
    may do; without a list only the tables' owner can (maintenance, tests)."""
    token = _retention_active.set(True)
    try:
        with transaction.atomic(using=using):
            connection = connections[using]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL callback.retention = 'on'")
                    if destruction_list_id is not None:
                        cursor.execute("SELECT callback_retention_begin(%s)", [destruction_list_id])
                    else:
                        cursor.execute(
                            f"INSERT INTO {TOKEN_TABLE} (txid) VALUES (txid_current()) "
                            "ON CONFLICT (txid) DO NOTHING"
                        )
            yield
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL callback.retention = 'off'")
    finally:
        _retention_active.reset(token)


def _guarded(using: str) -> bool:
    # PostgreSQL refuses in the database already; the guard is for SQLite.
    return connections[using].vendor != "postgresql" and not _retention_active.get()


def _is_protected(instance) -> bool:
    if instance.pk is None:
        return False
    model = type(instance)
    manager = model._base_manager.using(instance._state.db or "default")
    if model in (VisitRecord, AuditLogEntry):
        return not instance._state.adding
    if model is AuditReview:
        return manager.filter(pk=instance.pk, finished_at__isnull=False).exists()
    if model is Escalation:
        return manager.filter(pk=instance.pk, status=EscalationStatus.CLOSED).exists()
    return False


def _protected_models():
    return (VisitRecord, AuditLogEntry, AuditReview, Escalation)


@receiver(pre_save, dispatch_uid="supervision.immutability.pre_save")
def refuse_change(sender, instance, using, raw=False, **kwargs):
    if raw or sender not in _protected_models() or not _guarded(using):
        return
    if _is_protected(instance):
        raise RecordImmutable(f"{sender._meta.label} #{instance.pk} is immutable")


@receiver(pre_delete, dispatch_uid="supervision.immutability.pre_delete")
def refuse_delete(sender, instance, using, **kwargs):
    if sender not in _protected_models() or not _guarded(using):
        return
    instance._state.adding = False
    if _is_protected(instance):
        raise RecordImmutable(f"{sender._meta.label} #{instance.pk} cannot be deleted")
