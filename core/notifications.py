"""In-app notifications, and the e-mails they owe, sent only after the commit."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from core.models import Notification

logger = logging.getLogger(__name__)


@dataclass
class Mail:
    to: str
    subject: str
    body: str


def notifications_read_for(*, user, link: str) -> int:
    """Someone who has acted on an item has read what told them about it: their unread
    notifications pointing at it are marked read. Returns how many."""
    return Notification.objects.filter(user=user, link=link, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def notifications_read_about(*, key: str, user=None) -> int:
    """The unread notifications sent under ``key`` (``notify``'s dedup key, or a prefix of it
    ending in ":") are marked read: the recipient's own when ``user`` is given (they acted on the
    item), everyone's otherwise (the item is handled and nobody needs telling any more).
    Returns how many."""
    rows = Notification.objects.filter(read_at__isnull=True)
    if user is not None:
        rows = rows.filter(user=user)
    prefix = key if key.endswith(":") else f"{key}:u"  # notify() stores "<key>:u<user id>"
    return rows.filter(dedup_key__startswith=prefix).update(read_at=timezone.now())


def notify(users, *, message: str, link: str, key: str | None) -> list[Mail]:
    """In-app notifications, one per user; with a ``key`` a user is notified once for it even
    if the caller runs twice. Returns the e-mails owed for the newly created ones."""
    users = [u for u in {u.pk: u for u in users if u is not None}.values()]
    if not users:
        return []
    rows = [
        Notification(
            user=user,
            message=message[:300],
            link=link,
            dedup_key=f"{key}:u{user.pk}" if key else None,
        )
        for user in users
    ]
    if key:
        existing = set(
            Notification.objects.filter(dedup_key__in=[r.dedup_key for r in rows]).values_list(
                "dedup_key", flat=True
            )
        )
        rows = [r for r in rows if r.dedup_key not in existing]
    # ignore_conflicts: a concurrent run that inserted the same key first wins, quietly.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return [
        Mail(to=r.user.email, subject=message[:120], body=f"{message}\n\n{link}")
        for r in rows
        if r.user.email
    ]


def send_mails(mails: list[Mail]) -> None:
    """After the commit of the surrounding transaction (at once outside one): an e-mail is never
    sent for a notification that was rolled back."""
    if mails:
        transaction.on_commit(lambda: _deliver(mails))


def _deliver(mails: list[Mail]) -> None:
    messages = [EmailMessage(m.subject, m.body, None, [m.to]) for m in mails]
    try:
        get_connection().send_messages(messages)
    except Exception:  # the in-app notification is kept; a failed e-mail must not undo it
        logger.exception("escalation e-mail failed", extra={"count": len(messages)})
