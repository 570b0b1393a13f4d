"""Event store at bank scale, on PostgreSQL: ingestion with 20 million events already stored
(spread over 13 months) against an empty store, and the time to purge one month.

    .venv/bin/python bench/events.py [--quick]        (or: make bench)

Two databases on the server of DATABASE_URL (see ``_harness.bench_database_url``):
``<name>_events_empty`` (recreated each run) and ``<name>_events`` (seeded once with
``INSERT ... SELECT generate_series`` into the partitioned table, reused by later runs). In
each, the same N transaction events (20,000 in batches of 1,000, over 10,000 accounts) go
through ``events_from_payload`` + ``events_ingest`` in a child process (the API's own code
without HTTP), in four rounds of alternating order (``BENCH_EVENTS_ROUNDS``; an even number,
so that each store goes first as often as second), each timed part after a CHECKPOINT, and
the summed times are compared. Before the rounds, the full store is put back to the seeded
events alone (what earlier runs ingested, their keys and visits are deleted). Then one month
older than the retention (seeded
beside the 13 months, 1/13 of the events, 1 % of them pointed to by a visit trigger) is
purged with ``events_purge``; a later run seeds that month again.

The last line: ``RESULT events ingest_full_vs_empty=<x> purge_month_s=<seconds>``.
``--quick``: 200,000 events stored.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import _harness  # noqa: E402 - bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUICK = _harness.quick_flag() or os.environ.get("BENCH_EVENTS_QUICK") == "1"
STORED = int(os.environ.get("BENCH_EVENTS_STORED", "200000" if QUICK else "20000000"))
MONTHS = 13
ACCOUNTS = 10_000
INGEST = int(os.environ.get("BENCH_EVENTS_INGEST", "5000" if QUICK else "20000"))
BATCH = 1000
ROUNDS = int(os.environ.get("BENCH_EVENTS_ROUNDS", "4"))
FULL_URL = _harness.bench_database_url("events_quick" if QUICK else "events")
EMPTY_URL = _harness.bench_database_url("events_empty")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def recreate(url: str) -> None:
    import psycopg2

    name = url.rsplit("/", 1)[1]
    conn = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


# --- In a child process, on one database ---------------------------------------------------------

SEED_BASE = f"""
import datetime as dt
from accounts.models import Account, Branch, Customer
from core.api.auth import service_client_create
from core.models import ServiceClient
if not ServiceClient.objects.filter(name="bench").exists():
    branch = Branch.objects.create(code="BJ001", name="北京分行营业部")
    customers = Customer.objects.bulk_create(
        [Customer(external_id=f"B{{i:07d}}", customer_type="personal", name="张伟",
                  id_type="resident_id", id_number="110101199003074514", mobile="13800138000",
                  branch=branch) for i in range({ACCOUNTS})], batch_size=2000)
    Account.objects.bulk_create(
        [Account(number=f"6222{{i:012d}}", customer=c, account_type="personal_savings",
                 opened_on=dt.date(2024, 1, 2), branch=branch) for i, c in enumerate(customers)],
        batch_size=2000)
    service_client_create(name="bench", scopes=["ingest", "read"])
"""


def _month_start(day: dt.date, shift: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + shift
    return dt.date(index // 12, index % 12 + 1, 1)


def seed_history(cursor, *, first_month: dt.date, months: int, per_month: int) -> None:
    """``per_month`` transfers in each of ``months`` months from ``first_month``, one
    INSERT ... SELECT per month, 1 % of them pointed to by a visit trigger."""
    cursor.execute("SELECT min(id) FROM accounts_account")
    a0 = cursor.fetchone()[0]
    cursor.execute("SELECT id FROM core_serviceclient WHERE name = 'bench'")
    client = cursor.fetchone()[0]
    for shift in range(months):
        start = _month_start(first_month, shift)
        cursor.execute(
            f"""
            INSERT INTO accounts_accountevent (client_id, event_id, event_type, account_id,
                occurred_at, received_at, data, amount, currency, txn_kind, direction, channel,
                flagged, body_hash)
            SELECT {client}, 'H{start:%Y%m}-' || g, 'transaction', {a0} + g %% {ACCOUNTS},
                %(start)s::timestamptz + (g %% 27) * interval '1 day' + (g %% 86400) * interval '1 second',
                %(start)s::timestamptz + (g %% 27) * interval '1 day',
                '{{"amount": "1500.00", "currency": "CNY", "direction": "out", "channel": "online", "kind": "transfer"}}',
                1500, 'CNY', 'transfer', 'out', 'online', g %% 100 = 0, md5(g::text)
            FROM generate_series(1, %(n)s) g
            """,
            {"start": start, "n": per_month},
        )
    cursor.execute("SELECT count(*) FROM visits_visit WHERE reason = 'bench-events'")
    if cursor.fetchone()[0] == 0:
        cursor.execute(
            f"""
            INSERT INTO visits_visit (account_id, branch_id, kind, status, priority,
                suspected_fraud, due_at, due_provisional, channel, phone_attempts, reason,
                unreachable_reason, cancelled_reason, created_at, updated_at, completed_at)
            SELECT a.id, a.branch_id, 'special_event', 'completed', 50, false, now(), false,
                'phone', 1, 'bench-events', '', '', now(), now(), now()
            FROM accounts_account a WHERE a.id < {a0} + 100
            """
        )
    cursor.execute(
        """
        INSERT INTO visits_visittrigger (visit_id, event_id, created_at)
        SELECT v.id, e.id, now()
        FROM accounts_accountevent e
        JOIN visits_visit v ON v.account_id = e.account_id AND v.reason = 'bench-events'
        WHERE e.flagged AND e.occurred_at >= %s AND e.occurred_at < %s
          AND NOT EXISTS (SELECT 1 FROM visits_visittrigger t WHERE t.event_id = e.id)
        """,
        [first_month, _month_start(first_month, months)],
    )


CHILD = r"""
import datetime as dt, json, sys, time
from django.db import connection
from core.models import ServiceClient
from visits import event_store
from visits.api.events import events_from_payload
from visits.ingest import events_ingest
from visits.models import Visit
sys.path.insert(0, "bench")
import events as bench

import os
mode, prefix = os.environ["BENCH_MODE"], os.environ["BENCH_PREFIX"]
out = {}
today = dt.date.today()
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM accounts_accountevent")
    out["stored_before"] = cursor.fetchone()[0]
    if mode == "seed" and out["stored_before"] < bench.STORED:
        started = time.perf_counter()
        cursor.execute("TRUNCATE accounts_accountevent, visits_visittrigger")
        bench.seed_history(cursor, first_month=bench._month_start(today, -bench.MONTHS),
                           months=bench.MONTHS, per_month=bench.STORED // bench.MONTHS)
        out["seeded_s"] = time.perf_counter() - started
    if mode == "seed":
        # What earlier runs ingested goes: the store is the 20 million seeded events and
        # nothing else, as the empty store is nothing at all. Left in place, the events of the
        # earlier runs of the same day fall in the day and 24-hour windows of this run's
        # accounts, more rows for the burst and cumulative rules to read in the full store
        # only: with 600,000 of them (ten runs) the ratio was 1.32, against 0.93-0.99 on
        # the store as seeded.
        since = today - dt.timedelta(days=62)
        cursor.execute("DELETE FROM visits_visittrigger t USING accounts_accountevent e "
                       "WHERE t.event_id = e.id AND e.occurred_at >= %s "
                       "AND e.event_id NOT LIKE 'H%%'", [since])
        cursor.execute("DELETE FROM accounts_accountevent WHERE occurred_at >= %s "
                       "AND event_id NOT LIKE 'H%%'", [since])
        out["cleared_events"] = cursor.rowcount
        cursor.execute("DELETE FROM accounts_eventkey")
        out["cleared_visits"] = Visit.objects.exclude(reason="bench-events").delete()[1].get(
            "visits.Visit", 0)
    if mode in ("seed", "purge"):
        # The month past retention, seeded again when a previous run purged it.
        old = bench._month_start(today, -bench.MONTHS - 1)
        cursor.execute("SELECT count(*) FROM accounts_accountevent WHERE occurred_at >= %s "
                       "AND occurred_at < %s", [old, bench._month_start(old, 1)])
        if cursor.fetchone()[0] < bench.STORED // bench.MONTHS // 2:
            bench.seed_history(cursor, first_month=old, months=1,
                               per_month=bench.STORED // bench.MONTHS)
if mode == "purge":
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_accountevent")
    started = time.perf_counter()
    counts = event_store.events_purge()
    out["purge_s"] = time.perf_counter() - started
    out["purged"] = counts
if mode == "ingest":
    client = ServiceClient.objects.get(name="bench")
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(microsecond=0)
    raws = [
        {"event_id": f"{prefix}-{i:07d}", "type": "transaction",
         "account_number": f"6222{i % bench.ACCOUNTS:012d}",
         "occurred_at": (now - dt.timedelta(minutes=i % 600)).isoformat(),
         "data": {"amount": "80000.00" if i % 100 == 0 else f"{1000 + (i * 37) % 4000}.00",
                  "currency": "CNY", "direction": "out",
                  "channel": "counter" if i % 100 == 0 else "online",
                  "kind": "cash" if i % 100 == 0 else "transfer"}}
        for i in range(bench.INGEST)
    ]
    def batch(part):
        checked = events_from_payload(part)
        results = events_ingest(client=client, events=[e for e, _ in checked if e is not None])
        assert all(r.status == 201 for r in results), {r.status for r in results}
    batch(raws[:bench.BATCH])  # warm-up: caches, plans
    with connection.cursor() as cursor:
        # The timed part starts with no dirty page of what came before (the seeding, the
        # other store's round) left to write out.
        cursor.execute("CHECKPOINT")
    started = time.perf_counter()
    for i in range(bench.BATCH, len(raws), bench.BATCH):
        batch(raws[i:i + bench.BATCH])
    out["ingest_s"] = time.perf_counter() - started
    out["ingested"] = len(raws) - bench.BATCH
print(json.dumps(out, default=str))
"""


def child(url: str, mode: str, prefix: str = "-") -> dict:
    import json

    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "callback_admin.settings",
        "SECRET_KEY": "bench-" + "x" * 60,
        "FIELD_ENCRYPTION_KEYS": "avcUpuujp7m-E8azTHh6WdXWdbicVD6RI9u7xlqCQOQ=",
        "BLIND_INDEX_KEY": "bench-blind-index-key",
        "LOG_LEVEL": "WARNING",
    }
    if QUICK:
        env["BENCH_EVENTS_QUICK"] = "1"
    env.pop("REDIS_URL", None)
    python = str(ROOT / ".venv" / "bin" / "python")
    for args in (["migrate", "--noinput", "-v0"], ["shell", "--no-imports", "-c", SEED_BASE]):
        subprocess.run([python, "manage.py", *args], cwd=ROOT, env=env, check=True)
    code = CHILD
    result = subprocess.run(
        [python, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env={**env, "BENCH_MODE": mode, "BENCH_PREFIX": prefix},
        check=False,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-5000:])
        raise SystemExit(f"child {mode} on {url} failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    _harness.ensure_database(FULL_URL)
    log(f"full store {FULL_URL.rsplit('/', 1)[1]}: {STORED:,} events over {MONTHS} months")
    seeded = child(FULL_URL, "seed")
    if "seeded_s" in seeded:
        log(f"seeded in {seeded['seeded_s']:.0f} s")
    else:
        log(f"reused the seeded store ({seeded['stored_before']:,} events)")
    log(
        f"put back to the seeded events: {seeded['cleared_events']:,} events and "
        f"{seeded['cleared_visits']:,} visits of earlier runs deleted"
    )
    log(f"empty store {EMPTY_URL.rsplit('/', 1)[1]}: recreate")
    recreate(EMPTY_URL)
    # Rounds in alternating order (empty, full), (full, empty), ...: whatever else the machine
    # does during the run weighs on both stores alike. The ratio is of the summed times.
    times: dict[str, list[float]] = {"empty": [], "full": []}
    stored = 0
    for n in range(ROUNDS):
        prefix = f"R{int(time.time())}{n}"
        order = [("empty", EMPTY_URL), ("full", FULL_URL)]
        for name, url in order if n % 2 == 0 else reversed(order):
            out = child(url, "ingest", prefix)
            times[name].append(out["ingest_s"])
            ingested = out["ingested"]
            if name == "full":
                stored = out["stored_before"]
        log(
            f"round {n + 1}: {ingested:,} events in batches of {BATCH}: empty store "
            f"{times['empty'][-1]:.2f} s ({ingested / times['empty'][-1]:,.0f}/s), full store "
            f"({stored:,} stored) {times['full'][-1]:.2f} s ({ingested / times['full'][-1]:,.0f}/s)"
        )
    purge = child(FULL_URL, "purge")
    log(f"purge of one month: {purge['purge_s']:.2f} s, {purge['purged']}")
    ratio = sum(times["full"]) / sum(times["empty"])
    print("targets: ingest full/empty <= 1.15, purge of a month <= 5 s")
    print(
        _harness.result_line("events", ingest_full_vs_empty=ratio, purge_month_s=purge["purge_s"])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
