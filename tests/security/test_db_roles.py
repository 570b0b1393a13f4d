"""The runtime database role cannot switch immutability off: neither the callback.retention
setting nor pgtrigger's own ignore switch lets it change a submitted record or an audit row;
only the retention entry point does, and only for an approved destruction list. CI connects as
a superuser (which ignores grants), so each test makes a plain role and becomes it."""

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from core.audit import audit
from core.audit_actions import AuditAction
from supervision.db_roles import runtime_grants_sql
from supervision.models import DestructionList

pytestmark = [pytest.mark.postgres, pytest.mark.spec("6.immutable"), pytest.mark.django_db]


@pytest.fixture
def runtime_role():
    """A role with the runtime grants only; made inside the test's transaction, so it is gone
    with the rollback."""
    role = f"cb_runtime_{uuid.uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" NOLOGIN NOSUPERUSER NOINHERIT')
        for statement in runtime_grants_sql(role):
            cursor.execute(statement)
    return role


def _as(role, *statements):
    """Run the statements as ``role`` in a savepoint; the role ends with it."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'SET LOCAL ROLE "{role}"')
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute("RESET ROLE")


SWITCHES = [
    ("SET LOCAL callback.retention = 'on'", []),
    ("SET LOCAL pgtrigger.ignore = %s", ["{core.AuditLogEntry:auditlog_append_only}"]),
]


@pytest.mark.parametrize(
    "table,change",
    [
        ("visits_visitrecord", "UPDATE visits_visitrecord SET feedback = 'x' WHERE id = %s"),
        ("visits_visitrecord", "DELETE FROM visits_visitrecord WHERE id = %s"),
        ("core_auditlogentry", "UPDATE core_auditlogentry SET action = 'x' WHERE id = %s"),
        ("core_auditlogentry", "DELETE FROM core_auditlogentry WHERE id = %s"),
    ],
)
def test_the_runtime_role_cannot_switch_immutability_off(runtime_role, record, table, change):
    entry = audit(AuditAction.USER_CHANGE, object_type="t", object_id="1")
    pk = record.pk if table == "visits_visitrecord" else entry.pk
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(tgname, ',') FROM pg_trigger WHERE tgrelid = %s::regclass "
            "AND NOT tgisinternal",
            [table],
        )
        names = cursor.fetchone()[0]
    ignore_all = ("SET LOCAL pgtrigger.ignore = %s", ["{" + names + "}"])
    for switches in ([SWITCHES[0]], [SWITCHES[1]], [ignore_all], [SWITCHES[0], ignore_all]):
        with pytest.raises(DatabaseError, match="Cannot update or delete"):
            _as(runtime_role, *switches, (change, [pk]))
    # The token table is out of its reach too.
    with pytest.raises(DatabaseError, match="permission denied"):
        _as(runtime_role, ("INSERT INTO callback_retention_token (txid) VALUES (1)", []))


def test_the_runtime_role_changes_records_only_for_an_approved_destruction_list(
    runtime_role, record, supervisor
):
    draft = DestructionList.objects.create(created_by=supervisor)
    change = ("UPDATE visits_visitrecord SET feedback = '' WHERE id = %s", [record.pk])
    begin = ("SELECT callback_retention_begin(%s)", [draft.pk])
    with pytest.raises(DatabaseError, match="Cannot update or delete"):
        _as(runtime_role, SWITCHES[0], begin, change)  # a draft is not approved
    DestructionList.objects.filter(pk=draft.pk).update(status="approved")
    _as(runtime_role, SWITCHES[0], ("SELECT callback_retention_begin(%s)", [draft.pk]), change)
    record.refresh_from_db()
    assert record.feedback == ""


def test_the_runtime_role_neither_owns_nor_alters_the_tables(runtime_role):
    for sql in (
        "ALTER TABLE core_auditlogentry DISABLE TRIGGER USER",
        "TRUNCATE core_auditlogentry",
        "DROP TRIGGER callback_protect ON core_auditlogentry",
    ):
        with pytest.raises(DatabaseError):
            _as(runtime_role, (sql, []))
