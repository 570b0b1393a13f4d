"""Storage of account events at bank scale.

- Idempotency keys (``EventKey``): one narrow row per event a service client sent, unique per
  client, with the body hash and the first answer when it names visits; kept
  ``EVENT_KEY_DAYS`` days.
- Event rows: written in one statement per batch (on PostgreSQL ids from the sequence, then
  COPY: no statement of a few hundred kilobytes to parse and plan).
- Retention (PostgreSQL): the events table is partitioned by month of ``occurred_at``
  (visits migration ``event_store_partitioned``). Each night the months ahead get their
  partition, and a month older than ``EVENT_RETENTION_MONTHS`` is replaced by a copy of the
  events a visit trigger or a transaction check points to (the others are dropped with the old
  partition, in one transaction). Rows that landed in the DEFAULT partition (occurred before
  the first month) and SQLite's single table are purged row by row.
"""

from __future__ import annotations

import copy
import datetime
import io
import json
import logging
import re
from collections.abc import Iterable
from decimal import Decimal
from operator import itemgetter

import orjson
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from accounts.models import AccountEvent, EventKey
from core.pg import isoformats, pg_array
from visits.models import TransactionCheck, VisitTrigger

logger = logging.getLogger(__name__)

EVENT_TABLE = AccountEvent._meta.db_table
KEY_TABLE = EventKey._meta.db_table
MONTHS_AHEAD = 3


def _setting(name: str, default: int) -> int:
    return int(settings.CALLBACK.get(name, default))


# --- Idempotency keys ------------------------------------------------------------------------


def keys_known(*, client, event_ids: Iterable[str]) -> dict[str, tuple[str, dict | None]]:
    """event_id -> (body_hash, first answer or None) for the keys already stored."""
    ids = list(set(event_ids))
    if not ids:
        return {}
    return {
        event_id: (body_hash, answer)
        for event_id, body_hash, answer in EventKey.objects.filter(
            client=client, event_id__in=ids
        ).values_list("event_id", "body_hash", "answer")
    }


PLAIN_CLAIM_FROM = 100  # keys in a claim from which a plain INSERT is tried first


def keys_claim(*, client, keys: list[tuple[str, str]], now: datetime.datetime) -> set[str]:
    """INSERT ... ON CONFLICT DO NOTHING for (event_id, body_hash) pairs, in event-id order
    (two overlapping batches then wait for each other in one order instead of deadlocking).
    Returns the event ids whose keys this call inserted; a key another transaction inserted
    first is not among them (the claim waits for that transaction to end)."""
    if not keys:
        return set()
    keys = sorted(keys)
    claimed: set[str] = set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            insert = (
                f"INSERT INTO {KEY_TABLE} (client_id, event_id, body_hash, created_at) "
                "SELECT %s, e, h, %s FROM unnest(%s::text[], %s::text[]) AS u(e, h) "
            )
            params = [
                client.pk,
                now,
                pg_array([k for k, _h in keys]),
                pg_array([h for _k, h in keys]),
            ]
            claim = insert + "ON CONFLICT DO NOTHING RETURNING event_id"
            if len(keys) >= PLAIN_CLAIM_FROM:
                # A big batch tries a plain INSERT first, which returns nothing: it seldom
                # repeats a key, and ON CONFLICT's speculative insertion of each row cost a
                # fifth of the statement. A repeat (or a key another batch committed meanwhile)
                # fails it; its savepoint is rolled back and the keys are claimed with ON
                # CONFLICT DO NOTHING, which skips the known ones. A few keys go straight to ON
                # CONFLICT (the savepoint would cost more).
                try:
                    with transaction.atomic():
                        cursor.execute(insert, params)
                    return {event_id for event_id, _h in keys}
                except IntegrityError:
                    pass
            cursor.execute(claim, params)
            claimed.update(event_id for (event_id,) in cursor.fetchall())
            return claimed
        for start in range(0, len(keys), 5000):  # SQLite: 32766 parameters per statement
            chunk = keys[start : start + 5000]
            params: list = []
            for event_id, body_hash in chunk:
                params += [client.pk, event_id, body_hash, now]
            cursor.execute(
                f"INSERT INTO {KEY_TABLE} (client_id, event_id, body_hash, created_at) VALUES "
                + ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
                + " ON CONFLICT DO NOTHING RETURNING event_id",
                params,
            )
            claimed.update(event_id for (event_id,) in cursor.fetchall())
    return claimed


def keys_answer(*, client, answers: dict[str, dict]) -> None:
    """Stores first answers on the client's keys (event id -> answer)."""
    if not answers:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {KEY_TABLE} k SET answer = u.a::jsonb "
                "FROM unnest(%s::text[], %s::text[]) AS u(e, a) "
                "WHERE k.client_id = %s AND k.event_id = u.e",
                [
                    pg_array(answers),
                    pg_array([orjson.dumps(a).decode() for a in answers.values()]),
                    client.pk,
                ],
            )
        return
    answer_field = EventKey._meta.get_field("answer")
    EventKey.objects.filter(client=client, event_id__in=list(answers)).update(
        answer=Case(
            *[
                When(event_id=event_id, then=Value(answer, output_field=answer_field))
                for event_id, answer in answers.items()
            ]
        )
    )


def keys_purge(*, now: datetime.datetime | None = None) -> int:
    """Deletes the keys older than the window; a later repeat of such an id is a new event."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=_setting("EVENT_KEY_DAYS", 35))
    deleted, _ = EventKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# --- Event rows --------------------------------------------------------------------------------

_FIELDS = [f for f in AccountEvent._meta.concrete_fields if not f.primary_key]


def _as_text(value) -> str | None:
    """A value as the text PostgreSQL casts back to the column's type."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal | int):
        return str(value)
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # a Decimal, a date...: as text, as json.dumps(default=str) writes them
        return json.dumps(value, ensure_ascii=False, default=str)


class StoredEvent:
    """An event row just written, as the event rules read it: its fields as attributes (by
    attribute name, ``account_id`` and not ``account``) and ``pk``. Not a model instance:
    making 1,000 of those for a batch cost three times as much, for attributes alone."""

    # What the rules read (every other field of the row is there too).
    id: int
    event_id: str
    event_type: str
    account_id: int
    occurred_at: datetime.datetime
    amount: Decimal | None
    currency: str
    txn_kind: str

    @property
    def pk(self) -> int:
        return self.id


def stored_events(rows: list[dict], ids: list[int]) -> list[StoredEvent]:
    """The rows just inserted by ``events_insert`` (which completed them with the fields'
    defaults), with their ids, as ``StoredEvent``s: each row becomes the object's attributes."""
    new = StoredEvent.__new__
    out = []
    for row, pk in zip(rows, ids, strict=True):
        row["id"] = pk
        event = new(StoredEvent)
        event.__dict__ = row
        out.append(event)
    return out


def _rows_complete(rows: list[dict]) -> None:
    """Every field in every row: a missing one gets its default (a fresh copy of a mutable
    one, such as ``data={}``)."""
    defaults = {f.attname: f.get_default() for f in _FIELDS}
    mutable = {name for name, value in defaults.items() if isinstance(value, dict | list)}
    for row in rows:
        for name in defaults.keys() - row.keys():
            value = defaults[name]
            row[name] = copy.copy(value) if name in mutable else value


# COPY's text format: backslash, tab, newline and carriage return escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def _copy_text(value) -> str:
    """One field in COPY's text format (1,000 rows of 15 fields: the cheap cases first)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return _copy_text(_as_text(value))


def _json_text(value) -> str:
    """JSON of a dict or list: orjson, or ``_as_text``'s slower path for what orjson refuses."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return _as_text(value)


_AS_IS = {str}  # text without escapes: the value is the field
_WRITERS = {  # the other kinds of value a column of one kind holds, in COPY's text form
    int: str,
    Decimal: str,
    datetime.datetime: datetime.datetime.isoformat,
    datetime.date: datetime.date.isoformat,
    dict: _json_text,
    list: _json_text,
}
# Kinds whose text has no character COPY escapes (digits, signs, points, dates and times).
_PLAIN = {int, Decimal, datetime.datetime, datetime.date}


def _copy_column(values: list) -> list[str]:
    """One column of a batch in COPY's text format, converted a column at a time: most columns
    hold one kind of value, and text needs escaping only when the column has a special
    character anywhere (one search over the column instead of one per field)."""
    first = values[0]
    if first is values[-1] and first is not None and all(v is first for v in values):
        # One value for the whole batch (received_at, client_id): written once.
        return [_copy_text(first)] * len(values)
    kinds = {value.__class__ for value in values} - {type(None)}
    if kinds <= _AS_IS:
        text = values
    elif kinds == {datetime.datetime} and None not in values:
        text = isoformats(values)
    elif len(kinds) == 1 and (writer := _WRITERS.get(next(iter(kinds)))) is not None:
        text = [value if value is None else writer(value) for value in values]
    else:
        return [_copy_text(value) for value in values]
    has_null = None in text
    if not kinds <= _PLAIN and _COPY_SPECIAL.search(
        "".join([v for v in text if v is not None] if has_null else text)
    ):
        return [_copy_text(value) for value in values]
    return ["\\N" if value is None else value for value in text] if has_null else text


def _events_copy(rows: list[dict]) -> list[int]:
    """PostgreSQL: ids taken from the sequence in one query, then the rows sent with COPY (no
    statement of a few hundred kilobytes for the server to parse and plan)."""
    names = ", ".join(connection.ops.quote_name(f.column) for f in _FIELDS)
    with connection.cursor() as cursor:
        # The sequence looked up once (MATERIALIZED), not once per row: 2.6 ms against 0.5 ms.
        cursor.execute(
            "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS seq) "
            "SELECT nextval(s.seq) FROM s, generate_series(1, %s)",
            [EVENT_TABLE, len(rows)],
        )
        ids = sorted(pk for (pk,) in cursor.fetchall())
        columns = [[str(pk) for pk in ids]]
        values = zip(*map(itemgetter(*[f.attname for f in _FIELDS]), rows), strict=True)
        columns += [_copy_column(list(column)) for column in values]
        lines = ["\t".join(line) for line in zip(*columns, strict=True)]
        lines.append("")
        text = "\n".join(lines)
        buffer = io.StringIO(text)
        # Django wraps execute() only: its exception classes (IntegrityError for a missing
        # account, OperationalError for a deadlock, which events_ingest retries) for COPY too.
        with connection.wrap_database_errors:
            # One read of the whole text (psycopg2 reads 8 kB at a time by default).
            cursor.copy_expert(
                f"COPY {EVENT_TABLE} (id, {names}) FROM STDIN", buffer, len(text) + 1
            )
    return ids


def events_insert(rows: list[dict]) -> list[int]:
    """Inserts event rows (dicts by attribute name; a missing one gets the field's default,
    added to the row); returns their ids in the rows' order (ascending)."""
    if not rows:
        return []
    _rows_complete(rows)
    names = ", ".join(connection.ops.quote_name(f.column) for f in _FIELDS)
    if connection.vendor != "postgresql":
        # Multi-row VALUES (SQLite allows 32766 parameters: 1,000 rows of 15 columns fit).
        ids: list[int] = []
        row_sql = "(" + ", ".join(["%s"] * len(_FIELDS)) + ")"
        per_statement = 32000 // len(_FIELDS)
        with connection.cursor() as cursor:
            for start in range(0, len(rows), per_statement):
                chunk = rows[start : start + per_statement]
                params = []
                for row in chunk:
                    for field in _FIELDS:
                        params.append(field.get_db_prep_save(row[field.attname], connection))
                cursor.execute(
                    f"INSERT INTO {EVENT_TABLE} ({names}) VALUES "
                    f"{', '.join([row_sql] * len(chunk))} RETURNING id",
                    params,
                )
                ids += [pk for (pk,) in cursor.fetchall()]
        return ids
    return _events_copy(rows)


# --- Partitions and retention (PostgreSQL) ---------------------------------------------------


def _month_start(day: datetime.date, shift: int = 0) -> datetime.date:
    index = day.year * 12 + day.month - 1 + shift
    return datetime.date(index // 12, index % 12 + 1, 1)


def partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [EVENT_TABLE]
        )
        return cursor.fetchone() is not None


def event_partitions() -> list[tuple[str, datetime.date]]:
    """(table, first day of its month) of every monthly partition, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [EVENT_TABLE],
        )
        names = [name for (name,) in cursor.fetchall()]
    out = []
    prefix = f"{EVENT_TABLE}_p"
    for name in names:
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            stamp = name[len(prefix) :]
            out.append((name, datetime.date(int(stamp[:4]), int(stamp[4:6]), 1)))
    return sorted(out, key=lambda item: item[1])


def event_partitions_ensure(*, today: datetime.date | None = None) -> list[str]:
    """Creates the partitions of this month and the next MONTHS_AHEAD months when missing."""
    if not partitioned():
        return []
    today = today or timezone.localdate()
    existing = {month for _name, month in event_partitions()}
    created = []
    with connection.cursor() as cursor:
        for shift in range(MONTHS_AHEAD + 1):
            start = _month_start(today, shift)
            if start in existing:
                continue
            name = f"{EVENT_TABLE}_p{start:%Y%m}"
            cursor.execute(
                f"CREATE TABLE {name} PARTITION OF {EVENT_TABLE} FOR VALUES FROM (%s) TO (%s)",
                [start, _month_start(start, 1)],
            )
            created.append(name)
    return created


def _linked(alias: str) -> str:
    """SQL condition: the event ``alias`` is pointed to by a trigger or a transaction check."""
    triggers = VisitTrigger._meta.db_table
    checks = TransactionCheck._meta.db_table
    return (
        f"({alias}.id IN (SELECT event_id FROM {triggers}) "
        f"OR {alias}.id IN (SELECT event_id FROM {checks}))"
    )


def _partition_purge(name: str, start: datetime.date) -> tuple[int, int]:
    """Replaces the partition by a copy of its linked events; (kept, dropped)."""
    end = _month_start(start, 1)
    keep = f"{name}_keep"
    with transaction.atomic(), connection.cursor() as cursor:
        # Deferred foreign-key checks still pending in this transaction would forbid the DROP.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"SELECT count(*) FROM {name}")
        total = cursor.fetchone()[0]
        cursor.execute(f"CREATE TABLE {keep} (LIKE {EVENT_TABLE} INCLUDING DEFAULTS)")
        cursor.execute(f"INSERT INTO {keep} SELECT * FROM {name} e WHERE {_linked('e')}")
        kept = cursor.rowcount
        # The bounds as a check constraint: ATTACH then needs no scan to prove them.
        cursor.execute(
            f"ALTER TABLE {keep} ADD CONSTRAINT {keep}_bounds CHECK "
            f"(occurred_at IS NOT NULL AND occurred_at >= %s AND occurred_at < %s)",
            [start, end],
        )
        cursor.execute(f"ALTER TABLE {EVENT_TABLE} DETACH PARTITION {name}")
        cursor.execute(f"DROP TABLE {name}")
        cursor.execute(f"ALTER TABLE {keep} RENAME TO {name}")
        cursor.execute(
            f"ALTER TABLE {EVENT_TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)",
            [start, end],
        )
        cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {keep}_bounds")
    return kept, total - kept


def events_purge(*, now: datetime.datetime | None = None) -> dict:
    """Removes the events older than ``EVENT_RETENTION_MONTHS`` that no visit points to.
    Whole months on PostgreSQL (a month is purged once every day of it is past the cutoff);
    row by row elsewhere. Returns counts."""
    now = now or timezone.now()
    months = _setting("EVENT_RETENTION_MONTHS", 13)
    today = timezone.localtime(now).date()
    cutoff_month = _month_start(today, -months)  # months before this one are past retention
    counts = {"partitions": 0, "kept": 0, "deleted": 0}
    if partitioned():
        for name, start in event_partitions():
            if start >= cutoff_month:
                break
            if name.endswith("_keep"):
                continue
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT NOT EXISTS (SELECT 1 FROM {name} e WHERE NOT {_linked('e')})"
                )
                if cursor.fetchone()[0]:
                    continue  # already purged: only linked events left
            kept, dropped = _partition_purge(name, start)
            counts["partitions"] += 1
            counts["kept"] += kept
            counts["deleted"] += dropped
        table = f"{EVENT_TABLE}_default"
    else:
        table = EVENT_TABLE
    # Partition bounds are dates at midnight UTC (the connection's time zone); so is the cutoff.
    cutoff = datetime.datetime.combine(cutoff_month, datetime.time(0), tzinfo=datetime.UTC)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE occurred_at < %s AND NOT {_linked(table)}", [cutoff]
        )
        counts["deleted"] += cursor.rowcount
    logger.info("events purged", extra=counts)
    return counts


def event_store_maintain(*, now: datetime.datetime | None = None) -> dict:
    """The nightly job: partitions ahead, old events purged, old keys purged."""
    now = now or timezone.now()
    created = event_partitions_ensure(today=timezone.localtime(now).date())
    purged = events_purge(now=now)
    keys = keys_purge(now=now)
    return {"partitions_created": len(created), **purged, "keys_deleted": keys}
