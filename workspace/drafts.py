"""Drafts of the record form, kept on the server per visit and agent.

The call screen saves what the agent types (htmx, a second after they stop typing) and offers
it back when the page is opened again. A form posted after the session expired is kept in the
new anonymous session and becomes the draft once the same browser signs in again: Django keeps
the session's data across login (it only changes the key).

Drafts are scratch work, not records: saving one writes no audit entry (the record itself,
when submitted, does). They hold what the customer said, so they do not outlive their use: a
daily job deletes those of closed visits and those untouched for RETENTION_DRAFT_DAYS."""

from datetime import datetime, timedelta

from django.db import transaction
from django.http import QueryDict
from django.utils import timezone

from core.config import callback_int
from visits.models import OPEN_VISIT_STATUSES, Visit
from workspace.models import RecordDraft

# Only the record form's own fields are kept (its prefix is "r"); never the CSRF token.
FIELD_PREFIX = "r-"
MAX_VALUE_CHARS = 5000
PENDING_SESSION_KEY = "workspace.pending_record"


def draft_data_from_post(post: QueryDict) -> dict[str, list[str]]:
    return {
        key: [value[:MAX_VALUE_CHARS] for value in values]
        for key, values in post.lists()
        if key.startswith(FIELD_PREFIX)
    }


def record_draft_save(*, visit: Visit, agent, data: dict[str, list[str]]) -> RecordDraft:
    with transaction.atomic():
        draft, _ = RecordDraft.objects.update_or_create(
            visit=visit, agent=agent, defaults={"data": data, "updated_at": timezone.now()}
        )
    return draft


def record_draft_of(*, visit: Visit, agent) -> RecordDraft | None:
    return RecordDraft.objects.filter(visit=visit, agent=agent).first()


def record_draft_discard(*, visit: Visit, agent) -> None:
    RecordDraft.objects.filter(visit=visit, agent=agent).delete()


def record_drafts_purge(*, now: datetime | None = None) -> int:
    """The retention rule of drafts (supervision/retention.py): delete those whose visit is
    closed (completed elsewhere, by SMS or online, cancelled or unreachable) and those not
    changed for RETENTION_DRAFT_DAYS. One set-based DELETE; returns how many went."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=callback_int("RETENTION_DRAFT_DAYS"))
    stale = RecordDraft.objects.exclude(visit__status__in=OPEN_VISIT_STATUSES) | (
        RecordDraft.objects.filter(updated_at__lte=cutoff)
    )
    deleted, _detail = RecordDraft.objects.filter(pk__in=stale.values("pk")).delete()
    return deleted


def draft_initial(form, data: dict[str, list[str]]) -> dict:
    """The form's ``initial`` from a draft: each widget reads its own value back, so radios,
    checkboxes and multiple choices come back as they were typed."""
    post = QueryDict(mutable=True)
    for key, values in data.items():
        post.setlist(key, values)
    initial = {}
    for name, field in form.fields.items():
        key = form.add_prefix(name)
        if key in post or field.widget.__class__.__name__ == "CheckboxInput":
            initial[name] = field.widget.value_from_datadict(post, {}, key)
    return initial


def pending_record_keep(session, *, visit_pk: int, post: QueryDict) -> None:
    """Keep a record form posted without a session, until the agent signs in again."""
    pending = dict(session.get(PENDING_SESSION_KEY) or {})
    pending[str(visit_pk)] = draft_data_from_post(post)
    session[PENDING_SESSION_KEY] = pending


def pending_record_take(session, *, visit_pk: int) -> dict[str, list[str]] | None:
    pending = dict(session.get(PENDING_SESSION_KEY) or {})
    data = pending.pop(str(visit_pk), None)
    if data is not None:
        session[PENDING_SESSION_KEY] = pending
    return data
