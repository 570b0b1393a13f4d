"""The audit log: hash-chained, tamper evident, written on logins; searchable by supervisors
and the audit administrator, who can change nothing."""

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.urls import reverse

from core.audit import audit
from core.audit_actions import UnknownAuditAction
from core.models import AuditLogEntry
from supervision.audit_chain import verify_chain
from tests.fixtures import PASSWORD

RETENTION_TOKEN = (
    "INSERT INTO callback_retention_token (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING"
)


def _tamper(entry_id: int, action: str) -> None:
    """What a person with database access could do (on PostgreSQL past the trigger)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL callback.retention = 'on'")
            cursor.execute(RETENTION_TOKEN)  # as the tables' owner
        cursor.execute(
            "UPDATE core_auditlogentry SET action = %s WHERE id = %s", [action, entry_id]
        )


@pytest.mark.spec("6.audit-log")
def test_it_refuses_an_action_outside_the_registry(supervisor):
    with pytest.raises(UnknownAuditAction):
        audit("customer.updated", actor=supervisor)
    assert not AuditLogEntry.objects.filter(action="customer.updated").exists()


@pytest.mark.spec("6.audit-log")
def test_it_reports_the_first_edited_entry_with_its_position(supervisor, capsys):
    start = AuditLogEntry.objects.count()
    entries = [audit("user.change", actor=supervisor, after={"n": n}) for n in range(5)]
    assert verify_chain()[0]
    call_command("verify_audit_log")
    assert "chain intact" in capsys.readouterr().out

    _tamper(entries[2].pk, "test.forged")
    ok, broken_id, explanation = verify_chain()
    assert not ok and broken_id == entries[2].pk
    assert f"position {start + 3}" in explanation
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit_log")
    assert failure.value.returncode == 1
    assert f"entry {entries[2].pk} (position {start + 3})" in str(failure.value)


@pytest.mark.spec("6.audit-log")
def test_it_detects_a_rewritten_hash_at_the_next_link(supervisor):
    entries = [audit("user.change", actor=supervisor, after={"n": n}) for n in range(3)]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL callback.retention = 'on'")
            cursor.execute(RETENTION_TOKEN)
        cursor.execute(
            "UPDATE core_auditlogentry SET hash = %s WHERE id = %s",
            ["f" * 64, entries[1].pk],
        )
    ok, broken_id, _ = verify_chain()
    assert not ok and broken_id in (entries[1].pk, entries[2].pk)


@pytest.mark.spec("6.audit-log")
def test_it_never_stores_a_full_id_or_phone_number(supervisor):
    entry = audit(
        "customer.update",
        actor=supervisor,
        after={"mobile": "13912345678", "note": "身份证110101199003074514"},
    )
    entry.refresh_from_db()
    text = str(entry.after)
    assert "13912345678" not in text and "110101199003074514" not in text
    assert "139****5678" in text


@pytest.mark.spec("6.audit-log")
def test_it_logs_logins_logouts_and_failed_logins(client, agent):
    client.post(reverse("login"), {"username": "agent1", "password": "wrong-password"})
    client.post(reverse("login"), {"username": "agent1", "password": PASSWORD})
    client.post(reverse("logout"))
    actions = list(
        AuditLogEntry.objects.filter(action__startswith="auth.").values_list("action", flat=True)
    )
    assert actions == ["auth.login_fail", "auth.login", "auth.logout"]
    failed = AuditLogEntry.objects.get(action="auth.login_fail")
    assert failed.after["username"] == "agent1" and failed.ip == "127.0.0.1"
    assert "password" not in str(failed.after)


@pytest.mark.spec("6.audit-log")
def test_it_logs_user_changes_without_the_password_hash(administrator):
    administrator.email = "new@bank.example"
    administrator.set_password("Another-Pass-2026!")
    administrator.save()
    entry = AuditLogEntry.objects.filter(action="user.change").latest("pk")
    assert entry.before == {"email": ""}
    assert entry.after == {"email": "new@bank.example", "password": "changed"}


@pytest.mark.spec("6.audit-log")
def test_it_filters_the_audit_log_for_the_audit_administrator(client, audit_admin, supervisor):
    audit("record.amend", actor=supervisor, object_type="visits.visitrecord", object_id=7)
    audit("pii.reveal", actor=supervisor, object_type="accounts.customer", object_id=3)
    client.force_login(audit_admin)
    url = reverse("supervision:audit_log")
    page = client.get(url, {"action": "pii.", "actor": "super1"})
    assert page.status_code == 200
    shown = [e.action for e in page.context["entries"]]
    assert shown == ["pii.reveal"]
    bad = client.get(url, {"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert bad.status_code == 400 and "date_to" in bad.context["form"].errors


@pytest.mark.spec("6.audit-log")
def test_it_gives_the_audit_administrator_read_only_permissions(audit_admin, administrator):
    codenames = set(
        Permission.objects.filter(group__user=audit_admin).values_list("codename", flat=True)
    )
    assert "view_auditlogentry" in codenames
    assert all(code.startswith("view_") for code in codenames)
    assert not administrator.has_perm("core.view_auditlogentry")
    assert not administrator.has_perm("auth.change_user")  # users are the security admin's
    for user in (audit_admin, administrator):
        assert not user.has_perm("core.change_auditlogentry")
        assert not user.has_perm("core.delete_auditlogentry")


@pytest.mark.spec("6.audit-log")
def test_the_audit_log_pages_by_position_without_counting(
    client, audit_admin, supervisor, django_assert_max_num_queries
):
    for i in range(120):
        audit("pii.reveal", actor=supervisor, object_type="accounts.customer", object_id=i)
    client.force_login(audit_admin)
    url = reverse("supervision:audit_log")
    seen = []
    page = client.get(url, {"action": "pii."})
    while True:
        entries = [e.object_id for e in page.context["entries"]]
        assert len(entries) <= 50
        seen.extend(entries)
        older = page.context["older"]
        if older is None:
            break
        assert f"before={older}" in page.content.decode()
        with django_assert_max_num_queries(8) as queries:
            page = client.get(url, {"action": "pii.", "before": older})
        assert page.status_code == 200
        sql = [q["sql"].upper() for q in queries.captured_queries]
        assert not [q for q in sql if "COUNT(" in q and "AUDITLOGENTRY" in q]
        assert any("AUDITLOGENTRY" in q for q in sql)
    assert seen == [str(i) for i in reversed(range(120))]  # newest first, none twice or missed
    for bad in ("abc", "-3", "0", "9" * 30, "１２"):
        answer = client.get(url, {"before": bad})
        assert answer.status_code == 400
        assert list(answer.context["entries"]) == []
