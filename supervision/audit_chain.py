"""Verification of the hash-chained audit log, and its anchors.

The chain starts from the genesis or from the anchor a destruction certificate recorded. Each
entry's hash is an HMAC under one of ``AUDIT_CHAIN_KEYS``: new entries use the newest key, and
along the chain the key may only move to a newer one (an old key, once rotated out, cannot
sign a later entry).

Anchors catch what a chain alone cannot: the newest entries deleted (the rest still chains),
or the whole log rewritten by someone holding a key. ``audit_anchor_write`` appends the head
(last id, its hash, the count) to ``AUDIT_ANCHOR_FILE`` and to the logs, both outside the
database; ``verify_chain`` then checks that every anchored head is still there, unchanged.
"""

import hashlib
import hmac
import json
import logging
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from core.audit import GENESIS, chain_keys, entry_hash
from core.models import AuditLogEntry
from supervision.models import DestructionCertificate

logger = logging.getLogger(__name__)


def chain_anchors(using: str = "default") -> set[str]:
    """Hashes the chain may start from: the genesis, or where a destruction left it starting
    (the last entry removed; with entries a legal hold kept, the entry before the first)."""
    return {GENESIS, *(to for before, to in chain_jumps(using) if before == "")}


def chain_jumps(using: str = "default") -> set[tuple[str, str]]:
    """The skips over destroyed entries that certificates recorded: (hash of the remaining
    entry before, "" at the start; hash the next remaining entry links to). A certificate from
    before skips were recorded names only its anchor, the start."""
    jumps: set[tuple[str, str]] = set()
    for anchor, recorded in DestructionCertificate.objects.using(using).values_list(
        "chain_anchor", "chain_jumps"
    ):
        if recorded:
            jumps.update((before, to) for before, to in recorded)
        elif anchor:
            jumps.add(("", anchor))
    return jumps


def _key_index(entry: AuditLogEntry, keys: list[bytes], newest_allowed: int) -> int | None:
    """Index of the key (0 = newest) whose HMAC matches, trying only keys at least as new as
    the previous entry's."""
    for index in range(newest_allowed + 1):
        if hmac.compare_digest(entry_hash(entry, keys[index]), entry.hash):
            return index
    return None


def _anchor_path() -> Path | None:
    # Empty: no anchors (the test settings; a test that needs them gives a file).
    return Path(settings.AUDIT_ANCHOR_FILE) if settings.AUDIT_ANCHOR_FILE else None


def _anchor_mac(payload: dict) -> str:
    body = json.dumps(payload, sort_keys=True).encode()
    return hmac.new(chain_keys()[0], b"anchor:" + body, hashlib.sha256).hexdigest()


def read_anchors() -> list[dict]:
    """The anchors written so far, oldest first (a line that does not parse is reported as is)."""
    path = _anchor_path()
    if path is None or not path.exists():
        return []
    anchors = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                anchors.append(json.loads(line))
            except json.JSONDecodeError:
                anchors.append({"invalid": line})
    return anchors


def audit_anchor_write(using: str = "default") -> dict | None:
    """Append the log's head (last id, its hash, the count of entries) to the anchor file and
    to the logs. Nothing when the log is empty or the head is already anchored."""
    head = AuditLogEntry.objects.using(using).order_by("-pk").values_list("pk", "hash").first()
    if head is None:
        return None
    anchors = read_anchors()
    if anchors and anchors[-1].get("last_id") == head[0]:
        return None
    payload = {
        "at": timezone.now().isoformat(),
        "last_id": head[0],
        "head": head[1],
        "count": AuditLogEntry.objects.using(using).filter(pk__lte=head[0]).count(),
    }
    anchor = {**payload, "mac": _anchor_mac(payload)}
    path = _anchor_path()
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(anchor, sort_keys=True) + "\n")
    logger.info("audit log anchor %s", json.dumps(anchor, sort_keys=True))
    return anchor


def _check_anchors(using: str) -> tuple[bool, str]:
    destroyed_since = DestructionCertificate.objects.using(using)
    for anchor in read_anchors():
        if "invalid" in anchor:
            return False, f"anchor file: a line is not an anchor: {anchor['invalid'][:60]}"
        payload = {k: anchor[k] for k in ("at", "last_id", "head", "count") if k in anchor}
        if not any(
            hmac.compare_digest(
                anchor.get("mac", ""),
                hmac.new(
                    key, b"anchor:" + json.dumps(payload, sort_keys=True).encode(), hashlib.sha256
                ).hexdigest(),
            )
            for key in chain_keys()
        ):
            return False, f"anchor of entry {anchor.get('last_id')}: not written by this system"
        entry = AuditLogEntry.objects.using(using).filter(pk=anchor["last_id"]).first()
        if entry is None:
            if destroyed_since.filter(executed_at__gt=anchor["at"]).exists():
                continue  # removed by an approved destruction after the anchor
            return False, f"anchored entry {anchor['last_id']} is missing (log truncated)"
        if entry.hash != anchor["head"]:
            return False, f"anchored entry {anchor['last_id']}: hash differs (log rewritten)"
        present = AuditLogEntry.objects.using(using).filter(pk__lte=anchor["last_id"]).count()
        if (
            present != anchor["count"]
            and not destroyed_since.filter(executed_at__gt=anchor["at"]).exists()
        ):
            return False, (
                f"anchored entry {anchor['last_id']}: {present} entries up to it, "
                f"{anchor['count']} when anchored"
            )
    return True, ""


def verify_chain(
    using: str = "default", *, with_anchors: bool | None = None
) -> tuple[bool, int | None, str]:
    """Walks the chain in id order, then checks the anchors (by default only for the live
    database: a restored backup is older than the newest anchors). Returns (ok, first broken
    entry id, explanation).

    The position is 1-based among the entries present. The first entry must link to the
    genesis or to the anchor a destruction certificate recorded (retention removes the oldest
    entries through the approved procedure only); a later one to its predecessor, or across
    the destroyed entries around those a legal hold kept, exactly as a certificate recorded."""
    position = 0
    prev: str | None = None
    anchors = chain_anchors(using)
    jumps = chain_jumps(using)
    keys = chain_keys()
    newest_allowed = len(keys) - 1
    entries = AuditLogEntry.objects.using(using).order_by("pk").iterator(chunk_size=2000)
    for entry in entries:
        position += 1
        expected_ok = (
            entry.prev_hash in anchors
            if prev is None
            else entry.prev_hash == prev or (prev, entry.prev_hash) in jumps
        )
        if not expected_ok:
            return (
                False,
                entry.pk,
                f"entry {entry.pk} (position {position}): link to previous broken",
            )
        index = _key_index(entry, keys, newest_allowed)
        if index is None:
            return False, entry.pk, f"entry {entry.pk} (position {position}): content altered"
        newest_allowed = index
        prev = entry.hash
    if with_anchors if with_anchors is not None else using == "default":
        ok, problem = _check_anchors(using)
        if not ok:
            return False, None, problem
    return True, None, f"{position} entries, chain intact"
