"""Verification of the hash-chained audit log: the chain starts from the genesis or from the
anchor a destruction certificate recorded."""

from core.audit import GENESIS, entry_hash
from core.models import AuditLogEntry
from supervision.models import DestructionCertificate


def chain_anchors(using: str = "default") -> set[str]:
    """Hashes the chain may start from: the genesis, or the last entry a destruction removed."""
    anchors = set(
        DestructionCertificate.objects.using(using)
        .exclude(chain_anchor="")
        .values_list("chain_anchor", flat=True)
    )
    return {GENESIS, *anchors}


def verify_chain(using: str = "default") -> tuple[bool, int | None, str]:
    """Walks the chain in id order. Returns (ok, first broken entry id, explanation).

    The position is 1-based among the entries present. The first entry must link to the
    genesis or to the anchor a destruction certificate recorded (retention removes the oldest
    entries through the approved procedure only)."""
    position = 0
    prev: str | None = None
    anchors = chain_anchors(using)
    entries = AuditLogEntry.objects.using(using).order_by("pk").iterator(chunk_size=2000)
    for entry in entries:
        position += 1
        expected_ok = entry.prev_hash in anchors if prev is None else entry.prev_hash == prev
        if not expected_ok:
            return (
                False,
                entry.pk,
                f"entry {entry.pk} (position {position}): link to previous broken",
            )
        if entry_hash(entry) != entry.hash:
            return False, entry.pk, f"entry {entry.pk} (position {position}): content altered"
        prev = entry.hash
    return True, None, f"{position} entries, chain intact"
