"""A keyed audit chain with anchors: a rewrite recomputed without the key, the newest entries
deleted, or an anchor forged, is detected by verify_audit_log; keys rotate."""

import hashlib
import json

import pytest
from django.db import connection, transaction

from core.audit import _canonical, audit, entry_hash
from core.audit_actions import AuditAction
from core.models import AuditLogEntry
from supervision.audit_chain import audit_anchor_write, verify_chain
from supervision.tasks import audit_anchor_task

pytestmark = [pytest.mark.django_db, pytest.mark.spec("6.audit-log")]


@pytest.fixture
def anchors(settings, tmp_path):
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "anchors.log")
    return tmp_path / "anchors.log"


def _raw(sql, params):
    """What a person with database access could do (on PostgreSQL as the tables' owner)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL callback.retention = 'on'")
            cursor.execute(
                "INSERT INTO callback_retention_token (txid) VALUES (txid_current()) "
                "ON CONFLICT DO NOTHING"
            )
        cursor.execute(sql, params)


def _write(n):
    return [audit(AuditAction.USER_CHANGE, object_type="t", after={"n": i}) for i in range(n)]


def test_it_detects_a_consistent_rewrite_without_the_key():
    entries = _write(4)
    assert verify_chain()[0]
    # Edit the second entry and recompute every hash from there on, as the old unkeyed chain
    # allowed: plain SHA-256 over the same canonical content.
    prev = entries[0].hash
    for entry in AuditLogEntry.objects.filter(pk__gte=entries[1].pk).order_by("pk"):
        if entry.pk == entries[1].pk:
            entry.after = {"n": "forged"}
        entry.prev_hash = prev
        entry.hash = hashlib.sha256(_canonical(entry).encode()).hexdigest()
        _raw(
            "UPDATE core_auditlogentry SET after = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [json.dumps(entry.after), entry.prev_hash, entry.hash, entry.pk],
        )
        prev = entry.hash
    ok, broken_id, explanation = verify_chain()
    assert not ok and broken_id == entries[1].pk and "altered" in explanation


def test_it_detects_the_newest_entries_deleted_after_an_anchor(anchors):
    entries = _write(5)
    anchor = audit_anchor_task()
    assert anchor == entries[-1].pk and verify_chain()[0]
    _raw("DELETE FROM core_auditlogentry WHERE id >= %s", [entries[3].pk])
    ok, _broken, explanation = verify_chain()
    assert not ok and "missing" in explanation


def test_it_detects_a_rewrite_of_the_anchored_head(anchors, settings):
    entries = _write(3)
    audit_anchor_write()
    # Even with the key (an insider), a rewritten head no longer matches its anchor.
    entry = AuditLogEntry.objects.get(pk=entries[-1].pk)
    entry.after = {"n": "forged"}
    new_hash = entry_hash(entry)
    _raw(
        "UPDATE core_auditlogentry SET after = %s, hash = %s WHERE id = %s",
        [json.dumps(entry.after), new_hash, entry.pk],
    )
    ok, _broken, explanation = verify_chain()
    assert not ok and "rewritten" in explanation


def test_it_refuses_an_anchor_it_did_not_write(anchors):
    _write(2)
    audit_anchor_write()
    line = json.loads(anchors.read_text())
    line["count"] = 1
    anchors.write_text(json.dumps(line) + "\n")
    ok, _broken, explanation = verify_chain()
    assert not ok and "not written by this system" in explanation


def test_it_verifies_across_a_key_rotation_and_only_forward(settings):
    settings.AUDIT_CHAIN_KEYS = ["old-key-" + "o" * 32]
    _write(2)
    settings.AUDIT_CHAIN_KEYS = ["new-key-" + "n" * 32, "old-key-" + "o" * 32]
    _write(2)
    ok, _broken, explanation = verify_chain()
    assert ok, explanation
    # An entry signed with the retired key after newer ones is refused.
    settings.AUDIT_CHAIN_KEYS = ["old-key-" + "o" * 32]
    late = audit(AuditAction.USER_CHANGE, object_type="t")
    settings.AUDIT_CHAIN_KEYS = ["new-key-" + "n" * 32, "old-key-" + "o" * 32]
    ok, broken_id, _ = verify_chain()
    assert not ok and broken_id == late.pk
