"""The append-only, hash-chained audit log: ``audit(...)`` is the one way to write it.

Each entry stores the hash of the previous entry and its own keyed hash (HMAC, the key outside
the database) over its content, so an edited or deleted row breaks the chain at that position,
and a rewrite cannot recompute it without the key (``manage.py verify_audit_log``). Anchors (the
head hash and count, written away from the database: supervision/audit_chain.py) catch the
newest entries deleted.
Writers are serialised by a transaction-scoped advisory lock on PostgreSQL (SQLite
serialises writers by itself), so two processes never chain onto the same predecessor.
"""

import hashlib
import hmac
import json
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from core.audit_actions import AuditAction, UnknownAuditAction
from core.logging import _redact_value, request_id_var
from core.models import AuditLogEntry
from core.network import client_ip

GENESIS = "0" * 64
_LOCK_KEY = 7_201_001  # arbitrary, constant: the audit-log writer lock


def _canonical(entry: AuditLogEntry) -> str:
    payload = {
        "at": entry.at.isoformat(),
        "actor": entry.actor_id,
        "actor_label": entry.actor_label,
        "client": entry.client_name,
        "ip": entry.ip,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": entry.before,
        "after": entry.after,
        "prev": entry.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, cls=DjangoJSONEncoder)


def chain_keys() -> list[bytes]:
    """The chain's HMAC keys, newest first (``AUDIT_CHAIN_KEYS``). They live outside the
    database: whoever can only write rows cannot recompute a valid chain after an edit. Without
    any, a key derived from SECRET_KEY (also outside the database; production should set its
    own, see docs/SECURITY.md)."""
    keys = list(getattr(settings, "AUDIT_CHAIN_KEYS", []) or [])
    if not keys:
        keys = [hashlib.sha256(f"audit-chain:{settings.SECRET_KEY}".encode()).hexdigest()]
    return [key.encode() for key in keys]


def entry_hash(entry: AuditLogEntry, key: bytes | None = None) -> str:
    """HMAC-SHA256 of the entry's canonical content, with the newest key unless one is given."""
    key = chain_keys()[0] if key is None else key
    return hmac.new(key, _canonical(entry).encode(), hashlib.sha256).hexdigest()


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))


def audit(
    action: str,
    *,
    actor=None,
    obj=None,
    object_type: str = "",
    object_id: str | int = "",
    before: dict | None = None,
    after: dict | None = None,
    request=None,
    client=None,
) -> AuditLogEntry:
    """Write one audit entry. ``actor`` is a user (or None for the system / an API client);
    ``action`` must be one of ``AuditAction``."""
    if action not in AuditAction.values:
        raise UnknownAuditAction(f"unknown audit action {action!r}: add it to AuditAction")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    if actor is None and request is not None and getattr(request, "user", None) is not None:
        if getattr(request.user, "is_authenticated", False) and hasattr(request.user, "pk"):
            if request.user.__class__.__name__ != "ServiceClient":
                actor = request.user
    if client is None and request is not None:
        client = getattr(request, "service_client", None)
    after = dict(after or {})
    rid = request_id_var.get()
    if rid != "-":
        after.setdefault("_request_id", rid)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        last = AuditLogEntry.objects.order_by("-pk").values_list("hash", flat=True).first()
        entry = AuditLogEntry(
            at=timezone.now(),
            actor=actor if actor is not None and getattr(actor, "pk", None) else None,
            actor_label=actor.get_username() if actor is not None and actor.pk else "",
            client_name=client.name if client is not None else "",
            ip=client_ip(request),
            action=action,
            object_type=object_type,
            object_id=str(object_id) if object_id != "" else "",
            before=_scrub(_jsonable(before)),
            after=_scrub(_jsonable(after)) or None,
            prev_hash=last or GENESIS,
        )
        entry.hash = entry_hash(entry)
        entry.save(force_insert=True)
    return entry


def _scrub(value: Any) -> Any:
    """No full ID, phone or account number in the log: masked like in application logs."""

    return _redact_value(value)
