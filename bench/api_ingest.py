"""Batch ingestion through the HTTP API vs a raw COPY of the same rows.

    .venv/bin/python bench/api_ingest.py [--quick] [--events 200000] [--workers 3] [--clients 4]

On PostgreSQL (database ``<DATABASE_URL's name>_api``, see ``_harness.bench_database_url``,
dropped and created afresh), with gunicorn on 127.0.0.1, in three rounds: posts N transaction
events (new event ids each round) in batches of 1,000 through ``POST /api/v1/events/batch``
(about 1 % of them large cash withdrawals that match the large-transaction rules), then COPYs
the same rows into a fresh copy of the events table (same indexes and constraints). Events per
second and API time / COPY time are the medians of the rounds: on the shared 2-core machine the
same COPY took 2.5 s in one run and 4.3 s in another, and one API phase next to one COPY
measured at another moment gave ratios from 3.3 to 5.6 for the same code. Each timed phase
(each round's API and COPY, the floor) starts after a CHECKPOINT, so that none pays for
writing out the one before. The last line:
``RESULT ingest events_per_s=<x> api_vs_copy=<API time / COPY time>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import _harness  # noqa: E402 - bench/ is on sys.path when run as a script
import orjson

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
DB_URL = _harness.bench_database_url("api")
DB_NAME = urlsplit(DB_URL).path.lstrip("/")
PORT = int(os.environ.get("BENCH_API_PORT", "8097"))
BATCH = 1000
ACCOUNTS = 10_000


def pg_url() -> str:
    """The server, without a database name."""
    return urlunsplit(urlsplit(DB_URL)._replace(path="")).rstrip("/")


def env() -> dict:
    out = dict(os.environ)
    out.update(
        DATABASE_URL=f"{pg_url()}/{DB_NAME}",
        DJANGO_SETTINGS_MODULE="callback_admin.settings",
        DEBUG="false",
        SECRET_KEY="bench-" + "x" * 60,
        FIELD_ENCRYPTION_KEYS="avcUpuujp7m-E8azTHh6WdXWdbicVD6RI9u7xlqCQOQ=",
        BLIND_INDEX_KEY="bench-blind-index-key",
        API_THROTTLE_RATE="1000000/min",
        DB_CONN_MAX_AGE="600",
        LOG_LEVEL="WARNING",
    )
    out.pop("REDIS_URL", None)  # throttle counters in the file cache: no shared Redis touched
    return out


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def recreate_database() -> None:
    import psycopg2

    conn = psycopg2.connect(f"{pg_url()}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DB_NAME}")
    conn.close()


SEED = """
import datetime as dt
from core.api.auth import service_client_create
from accounts.models import Account, Branch, Customer
branch = Branch.objects.create(code="BJ001", name="北京分行营业部")
customers = Customer.objects.bulk_create(
    [Customer(external_id=f"B{i:07d}", customer_type="personal", name="张伟", id_type="resident_id",
              id_number="110101199003074514", mobile="13800138000", branch=branch)
     for i in range(%(accounts)d)], batch_size=2000)
Account.objects.bulk_create(
    [Account(number=f"6222{i:012d}", customer=c, account_type="personal_savings",
             opened_on=dt.date(2024, 1, 2), branch=branch) for i, c in enumerate(customers)],
    batch_size=2000)
client, key = service_client_create(name="bench", scopes=["ingest", "read"])
print("KEY=" + key)
"""


def manage(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env(),
        input=stdin,
        text=True,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"manage.py {' '.join(args)} failed")
    return result.stdout


def make_events(n: int, now: dt.datetime, prefix: str = "BENCH-") -> list[dict]:
    """Transfers of 1,000-5,000 yuan (under every transfer threshold, above the small-burst
    ceiling); every 100th a cash withdrawal of 80,000 that matches the large-cash rules. Event
    ids ``<prefix><n>``."""
    events = []
    for i in range(n):
        account = i % ACCOUNTS
        occurred = now - dt.timedelta(days=(i // ACCOUNTS) % 20, minutes=i % 600)
        large = i % 100 == 0
        events.append(
            {
                "event_id": f"{prefix}{i:08d}",
                "type": "transaction",
                "account_number": f"6222{account:012d}",
                "occurred_at": occurred.isoformat(),
                "data": {
                    "amount": "80000.00" if large else f"{1000 + (i * 37) % 4000}.00",
                    "currency": "CNY",
                    "direction": "out",
                    "channel": "counter" if large else "online",
                    "kind": "cash" if large else "transfer",
                },
            }
        )
    return events


def wait_for_server(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/api/v1/branches")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not answer")


def timed_in_threads(worker, count: int) -> float:
    """Seconds for ``count`` threads running ``worker`` until all are done."""
    threads = [threading.Thread(target=worker) for _ in range(count)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def post_all(bodies: list[bytes], key: str, clients: int) -> tuple[float, dict]:
    counts: dict[int, int] = {}
    lock = threading.Lock()
    queue = list(reversed(bodies))
    failures: list[str] = []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=300)
        headers = {"Authorization": f"Token {key}", "Content-Type": "application/json"}
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            conn.request("POST", "/api/v1/events/batch", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            if response.status != 200:
                failures.append(f"{response.status}: {payload[:300]!r}")
                continue
            # orjson (C): the load generator shares the two cores with what it measures.
            statuses = [result["status"] for result in orjson.loads(payload)["results"]]
            with lock:
                for status in statuses:
                    counts[status] = counts.get(status, 0) + 1

    elapsed = timed_in_threads(worker, clients)
    if failures:
        raise SystemExit(f"{len(failures)} batches failed, e.g. {failures[0]}")
    return elapsed, counts


# Rounds of (API, then COPY of the same rows), the ratios their medians: see the docstring.
ROUNDS = 3


def checkpoint() -> None:
    """A CHECKPOINT before each timed phase: the dirty pages and the WAL of the phase before
    are written out first, not by the checkpointer in the middle of the next one (which made
    the single COPY of 200,000 rows take 1.5 s in one run and 2.4 s in the next)."""
    import psycopg2

    conn = psycopg2.connect(f"{pg_url()}/{DB_NAME}")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CHECKPOINT")
    conn.close()


def copy_same_rows(events: list[dict], prefix: str) -> tuple:
    """COPY the rows the API stored for the events of ``prefix`` (same columns and values) into
    a fresh table with the events table's indexes and constraints, after a checkpoint; returns
    the seconds the COPY took, the columns, the COPY lines and the (event id, body hash)
    keys."""
    import psycopg2

    conn = psycopg2.connect(f"{pg_url()}/{DB_NAME}")
    with conn.cursor() as cur:
        cur.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'accounts_accountevent'::regclass "
            "AND attnum > 0 AND NOT attisdropped AND attname <> 'id' ORDER BY attnum"
        )
        names = [name for (name,) in cur.fetchall()]
        columns = ", ".join(names)
        cur.execute(
            f"SELECT {columns} FROM accounts_accountevent WHERE event_id LIKE %s", [prefix + "%"]
        )
        rows = cur.fetchall()
        assert len(rows) == len(events), (len(rows), len(events))
        buffer = io.StringIO()
        keys = [(row[names.index("event_id")], row[names.index("body_hash")]) for row in rows]
        for row in rows:
            fields = []
            for value in row:
                if value is None:
                    fields.append("\\N")
                elif isinstance(value, dict | list):
                    fields.append(_copy_escape(json.dumps(value, ensure_ascii=False)))
                elif isinstance(value, bool):
                    fields.append("t" if value else "f")
                elif isinstance(value, dt.datetime):
                    fields.append(value.isoformat())
                else:
                    fields.append(_copy_escape(str(value)))
            buffer.write("\t".join(fields) + "\n")
        conn.commit()
        text = buffer.getvalue()
        lines = text.splitlines(keepends=True)
        cur.execute("DROP TABLE IF EXISTS bench_event_copy")
        cur.execute("CREATE TABLE bench_event_copy (LIKE accounts_accountevent INCLUDING ALL)")
        conn.commit()
        checkpoint()
        start = time.perf_counter()
        cur.copy_expert(f"COPY bench_event_copy ({columns}) FROM STDIN", io.StringIO(text))
        conn.commit()
        seconds = time.perf_counter() - start
        cur.execute("SELECT count(*) FROM bench_event_copy")
        assert cur.fetchone()[0] == len(events)
        cur.execute("DROP TABLE bench_event_copy")
        conn.commit()
    conn.close()
    return seconds, columns, lines, keys


def floor_per_batch(columns: str, lines: list[str], keys: list, clients: int) -> float:
    """The least any ingestion with these guarantees writes, by hand: per batch of 1,000 one
    transaction that claims the idempotency keys (INSERT ... ON CONFLICT DO NOTHING RETURNING)
    and COPYs the events, then COMMITs; ``clients`` connections at once, as the API is posted
    to. No validation, rules, visits or audit entry. Returns the seconds for all batches."""
    import psycopg2

    conn = psycopg2.connect(f"{pg_url()}/{DB_NAME}")
    with conn.cursor() as cur:
        for table, like in (
            ("bench_event_floor", "accounts_accountevent"),
            ("bench_key_floor", "accounts_eventkey"),
        ):
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(f"CREATE TABLE {table} (LIKE {like} INCLUDING ALL)")
        cur.execute("SELECT id FROM core_serviceclient WHERE name = 'bench'")
        client = cur.fetchone()[0]
    conn.commit()
    checkpoint()
    batches = [(lines[i : i + BATCH], keys[i : i + BATCH]) for i in range(0, len(lines), BATCH)]
    queue = list(reversed(batches))
    lock = threading.Lock()

    def worker():
        wconn = psycopg2.connect(f"{pg_url()}/{DB_NAME}")
        with wconn.cursor() as wcur:
            while True:
                with lock:
                    if not queue:
                        break
                    part, part_keys = queue.pop()
                wcur.execute(
                    "INSERT INTO bench_key_floor (client_id, event_id, body_hash, created_at) "
                    "SELECT %s, e, h, now() FROM unnest(%s::text[], %s::text[]) AS u(e, h) "
                    "ON CONFLICT DO NOTHING RETURNING id, event_id",
                    [client, [k for k, _h in part_keys], [h for _k, h in part_keys]],
                )
                wcur.fetchall()
                wcur.copy_expert(
                    f"COPY bench_event_floor ({columns}) FROM STDIN", io.StringIO("".join(part))
                )
                wconn.commit()
        wconn.close()

    elapsed = timed_in_threads(worker, clients)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM bench_event_floor")
        assert cur.fetchone()[0] == len(lines)
        cur.execute("DROP TABLE bench_event_floor")
        cur.execute("DROP TABLE bench_key_floor")
    conn.commit()
    conn.close()
    return elapsed


def _copy_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 events: a quick check")
    parser.add_argument("--events", type=int, default=None, help="default 200,000")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP connections")
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = 20_000 if args.quick else 200_000

    log(f"database {DB_NAME}: recreate and migrate")
    recreate_database()
    manage("migrate", "--noinput")
    key = next(
        line[4:]
        for line in manage(
            "shell", "--no-imports", stdin=SEED % {"accounts": ACCOUNTS}
        ).splitlines()
        if line.startswith("KEY=")
    )
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(microsecond=0)
    log(f"gunicorn: {args.workers} workers on 127.0.0.1:{PORT}")
    server = subprocess.Popen(
        [
            GUNICORN,
            "callback_admin.wsgi:application",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            str(args.workers),
            "--timeout",
            "300",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env(),
        start_new_session=True,
    )
    rounds = []  # (API seconds, COPY seconds) of each round
    try:
        wait_for_server()
        for number in range(ROUNDS):
            prefix = f"BENCH-{number}-"
            events = make_events(args.events, now, prefix)
            bodies = [
                json.dumps({"events": events[i : i + BATCH]}, ensure_ascii=False).encode()
                for i in range(0, len(events), BATCH)
            ]
            checkpoint()
            log(
                f"round {number + 1}: posting {len(events)} events in {len(bodies)} batches, "
                f"{args.clients} connections"
            )
            elapsed, counts = post_all(bodies, key, args.clients)
            if counts.get(201, 0) != len(events):
                raise SystemExit(f"not every event was created: {counts}")
            copy_seconds, columns, lines, keys = copy_same_rows(events, prefix)
            rounds.append((elapsed, copy_seconds))
            print(
                f"round {number + 1}: API {elapsed:.1f} s = {len(events) / elapsed:,.0f} events/s; "
                f"COPY of the same rows {copy_seconds:.2f} s; API / COPY "
                f"{elapsed / copy_seconds:.2f}",
                flush=True,
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    visits = manage(
        "shell",
        "--no-imports",
        "-c",
        "from visits.models import Visit; print(Visit.objects.filter(kind='special_event').count())",
    ).strip()
    elapsed = statistics.median(api for api, _copy in rounds)
    api_rate = len(events) / elapsed
    ratio = statistics.median(api / copy for api, copy in rounds)
    print(
        f"API: median {elapsed:.1f} s for {len(events)} events = {api_rate:,.0f} events/s "
        f"(special-event visits opened: {visits})"
    )
    floor_seconds = floor_per_batch(columns, lines, keys, args.clients)
    print(
        f"floor (keys claimed + COPY, one transaction per batch of {BATCH}, "
        f"{args.clients} connections): {floor_seconds:.2f} s = "
        f"{len(events) / floor_seconds:,.0f} events/s; API / floor: {elapsed / floor_seconds:.2f}"
    )
    print(f"target >= 10,000 events/s: {'met' if api_rate >= 10_000 else 'NOT met'}")
    print(f"time API / COPY: median of the rounds {ratio:.2f} (target <= 5)")
    print(_harness.result_line("ingest", events_per_s=round(api_rate), api_vs_copy=ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
