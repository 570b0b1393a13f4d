"""Benchmark of visit generation at bank scale, on PostgreSQL.

    .venv/bin/python bench/generate.py [--quick]        (or: make bench)

Builds 1,000,000 accounts (250,000 customers, 50 branches, 200,000 completed visits) with
COPY in a dedicated database (``<DATABASE_URL's name>_gen`` on the same server, created if
missing; see ``_harness.bench_database_url``), then measures, on the same data and in the same
run:

- ``raw``: ONE hand-written SQL statement selecting the same due accounts (new-account and
  periodic, with their due dates) into a scratch table; run first, on the state the job sees;
- ``first``: a full ``generate_due_visits`` (in a child process, whose peak RSS is the job's
  peak memory, Django included), the cold start;
- ``second``: a second run, which must create nothing;
- ``daily``: the next night's run (one day later: the accounts whose cycle reaches the new
  horizon day come due, about 0.3 % of them), then ``noop``: the same night run again, with
  nothing due;
- ``floor``: the raw due set INSERTed by hand into the real visits table, from the state the
  first run saw; then the cold start again (after a reset) and the floor again, so that there
  are three pairs of a cold start and a floor measured next to each other: (first, floor),
  (floor, cold), (cold, floor).

Each timed phase starts after a CHECKPOINT, so that none pays for writing out what came before.
The ratio is the median of the three pairs' ratios. On the shared 2-core machine one statement
of a minute moved by up to a third from one minute to the next (the floor took 44 s and then
66 s, back to back; the disk's waits came and went): one measurement of each side gave ratios
from 0.89 to 1.82 for the same code; the median of three pairs is not moved by one such swing.

The last line: ``RESULT generate cold_vs_same_table_insert=<median of the pairs>
rerun_vs_first= daily_vs_noop= peak_mb=``. ``--quick`` (or BENCH_ACCOUNTS) makes it small.
"""

from __future__ import annotations

import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 27, 1, 0, tzinfo=SHANGHAI)  # a Friday, when the nightly job runs
import _harness  # noqa: E402 - bench/ is on sys.path when run as a script

ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "20000" if _harness.quick_flag() else "1000000"))
CUSTOMERS = max(ACCOUNTS // 4, 1)
BRANCHES = 50
COMPLETED = ACCOUNTS // 5
SEED = 20261127


def bench_url() -> str:
    return _harness.bench_database_url("gen_quick" if _harness.quick_flag() else "gen")


def ensure_database(url: str) -> None:
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callback_admin.settings")
    # Only valid ciphertext matters here, not secrecy: fixed throwaway keys if none are set.
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "avcUpuujp7m-E8azTHh6WdXWdbicVD6RI9u7xlqCQOQ=")
    os.environ.setdefault("BLIND_INDEX_KEY", "bench-blind-index-key")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    import logging

    logging.getLogger("visits").setLevel(logging.WARNING)


# --- Data --------------------------------------------------------------------------------------


class _Lines(io.RawIOBase):
    """A file-like object over a generator of text lines, for COPY FROM STDIN."""

    def __init__(self, lines):
        self._lines = lines
        self._buffer = b""

    def readable(self):
        return True

    def readinto(self, target):
        while len(self._buffer) < len(target):
            try:
                self._buffer += next(self._lines).encode()
            except StopIteration:
                break
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def _copy(cursor, model, rows) -> None:
    """COPY ``rows`` (dicts by column name) into ``model``'s table. Columns a row does not name
    get the field's default, so a column added later does not break the benchmark."""
    from django.db import connection

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    defaults = {}
    for f in fields:
        value = f.get_default() if f.has_default() else None
        defaults[f.column] = f.get_db_prep_save(value, connection) if value is not None else None

    def text(value):
        if value is None:
            return r"\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")

    def lines():
        for row in rows:
            yield "\t".join(text(row[c] if c in row else defaults[c]) for c in columns) + "\n"

    cursor.copy_expert(
        f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN",
        io.BufferedReader(_Lines(lines()), buffer_size=1 << 20),
    )


def build(url: str) -> None:
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Account, Branch, Customer
    from core.crypto import blind_index, encrypt, stored_columns
    from visits.models import Visit

    call_command("migrate", verbosity=0)
    rnd = random.Random(SEED)
    stamp = NOW.isoformat()
    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE visits_visit, accounts_account, accounts_customer, accounts_branch "
            "RESTART IDENTITY CASCADE"
        )
        Branch.objects.bulk_create(
            Branch(code=f"BR{i:03d}", name=f"第{i}支行") for i in range(BRANCHES)
        )
        branch_ids = list(Branch.objects.order_by("pk").values_list("pk", flat=True))
        # Customer PII does not matter here; the columns hold valid ciphertext computed once.
        id_number, mobile = "110101199003074514", "13800138000"
        enc_id, enc_mobile, enc_addr = encrypt(id_number), encrypt(mobile), encrypt("北京市东城区")
        hash_id, hash_mobile = blind_index(id_number), blind_index(mobile)
        customer_branch = [branch_ids[i % BRANCHES] for i in range(CUSTOMERS)]
        risks = []
        for _ in range(CUSTOMERS):
            r = rnd.random()
            risks.append("high" if r < 0.05 else "medium" if r < 0.30 else "low")
        _copy(
            cur,
            Customer,
            (
                {
                    "external_id": f"B{i:09d}",
                    "customer_type": "personal",
                    "name": "客户",
                    "id_type": "resident_id",
                    "id_number": enc_id,
                    "id_number_hash": hash_id,
                    "mobile": enc_mobile,
                    "mobile_hash": hash_mobile,
                    "email": "",
                    "landline": "",
                    "address": enc_addr,
                    "risk_level": risks[i],
                    "marketing_consent": False,
                    "do_not_contact": i % 100 == 0,
                    "branch_id": customer_branch[i],
                    "legal_hold": False,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for i in range(CUSTOMERS)
            ),
        )
        cur.execute("SELECT min(id) FROM accounts_customer")
        first_customer = cur.fetchone()[0]
        today = NOW.date()
        span = (today - date(2010, 1, 1)).days

        def account_rows():
            for i in range(ACCOUNTS):
                t, s = rnd.random(), rnd.random()
                customer = i % CUSTOMERS
                # 1 % opened in the last 30 days (new accounts), the rest since 2010.
                opened = today - timedelta(
                    days=rnd.randrange(30) if rnd.random() < 0.01 else rnd.randrange(span)
                )
                yield {
                    # Encrypted, with its blind index and masked copy, as the ORM stores it.
                    **stored_columns(Account, number=f"6222{i:012d}"),
                    "customer_id": first_customer + customer,
                    "account_type": "personal_savings"
                    if t < 0.80
                    else "corporate"
                    if t < 0.95
                    else "special",
                    "status": "dormant"
                    if s < 0.03
                    else "frozen"
                    if s < 0.04
                    else "closed"
                    if s < 0.06
                    else "active",
                    "opened_on": opened.isoformat(),
                    "branch_id": customer_branch[customer],
                    "legal_hold": False,
                    "created_at": stamp,
                    "updated_at": stamp,
                }

        _copy(cur, Account, account_rows())
        cur.execute("SELECT min(id) FROM accounts_account")
        first_account = cur.fetchone()[0]
        cur.execute(
            "SELECT id, branch_id FROM accounts_account ORDER BY random() LIMIT %s", [COMPLETED]
        )
        visited = cur.fetchall()

        def completed_rows():
            for account_id, branch_id in visited:
                done = NOW - timedelta(days=rnd.randrange(730), hours=rnd.randrange(24))
                yield {
                    "account_id": account_id,
                    "branch_id": branch_id,
                    "kind": "periodic",
                    "status": "completed",
                    "priority": 30,
                    "suspected_fraud": False,
                    "due_at": done.isoformat(),
                    "channel": "phone",
                    "phone_attempts": 1,
                    "reason": "",
                    "unreachable_reason": "",
                    "cancelled_reason": "",
                    "created_at": done.isoformat(),
                    "updated_at": done.isoformat(),
                    "completed_at": done.isoformat(),
                }

        _copy(cur, Visit, completed_rows())
        assert first_account is not None
    connection.close()
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()


def reusable() -> bool:
    """The data of an earlier run of the same size (BENCH_REBUILD=1 forces a rebuild)."""
    from django.db import connection

    if os.environ.get("BENCH_REBUILD") == "1":
        return False
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM accounts_account")
            accounts = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM accounts_customer")
            customers = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM visits_visit WHERE status = 'completed'")
            completed = cur.fetchone()[0]
    except Exception:  # no tables yet
        return False
    finally:
        connection.close()
    return (accounts, customers, completed) == (ACCOUNTS, CUSTOMERS, COMPLETED)


def reset(url: str) -> None:
    """Back to the built state: only the seeded completed visits."""
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        # Nothing references the generated visits in this database: skip the per-row
        # referential checks of the delete (bench database only; needs a superuser).
        cur.execute("SET session_replication_role = replica")
        cur.execute("DELETE FROM visits_visit WHERE status <> 'completed'")
        cur.execute("SET session_replication_role = DEFAULT")
        cur.execute("VACUUM ANALYZE visits_visit")
    conn.close()


# --- The hand-written reference ------------------------------------------------------------------

RAW_SQL = """
CREATE TABLE bench_due AS
WITH last_visit AS (
    SELECT account_id,
           max(CASE WHEN status = 'completed' THEN completed_at ELSE updated_at END) AS at
    FROM visits_visit
    WHERE status = 'completed' OR (status = 'unreachable' AND kind = 'periodic')
    GROUP BY account_id
), cycle AS (
    SELECT a.id AS account_id,
           COALESCE((lv.at AT TIME ZONE 'Asia/Shanghai')::date, a.opened_on)
           + make_interval(months => (CASE a.account_type WHEN 'personal_savings' THEN 12 ELSE 6 END)
                 / (CASE WHEN c.risk_level = 'high' OR a.status IN ('dormant', 'frozen') THEN 2 ELSE 1 END))
             AS due
    FROM accounts_account a
    JOIN accounts_customer c ON c.id = a.customer_id
    LEFT JOIN last_visit lv ON lv.account_id = a.id
    WHERE a.status <> 'closed' AND NOT c.do_not_contact
)
SELECT cycle.account_id, 'periodic' AS kind,
       (cycle.due::date + time '17:00') AT TIME ZONE 'Asia/Shanghai' AS due_at
FROM cycle
WHERE cycle.due::date <= %(horizon)s
  AND NOT EXISTS (SELECT 1 FROM visits_visit v WHERE v.account_id = cycle.account_id
                  AND v.kind = 'periodic' AND v.status IN ('pending', 'assigned', 'in_progress'))
UNION ALL
SELECT a.id, 'new_account', NULL
FROM accounts_account a
JOIN accounts_customer c ON c.id = a.customer_id
WHERE a.opened_on BETWEEN %(first)s AND %(today)s AND a.status <> 'closed' AND NOT c.do_not_contact
  AND NOT EXISTS (SELECT 1 FROM visits_visit v WHERE v.account_id = a.id AND v.kind = 'new_account')
"""


# The same due set, written by hand into the real visits table (its indexes, its foreign keys,
# committed): the floor under any implementation that stores visits there, and the reference
# of the cold-start ratio.
FLOOR_SQL = (
    "INSERT INTO visits_visit (account_id, branch_id, kind, status, priority, suspected_fraud, "
    "due_at, channel, phone_attempts, policy_id, policy_version, reason, unreachable_reason, "
    "cancelled_reason, created_at, updated_at) "
    "SELECT d.account_id, a.branch_id, d.kind, 'pending', 50, FALSE, "
    "COALESCE(d.due_at, %(now)s), 'phone', 0, "
    "(SELECT min(id) FROM visits_visitpolicy), 1, '', '', '', %(now)s, %(now)s "
    "FROM bench_due d JOIN accounts_account a ON a.id = d.account_id ORDER BY d.account_id"
)


def _raw_params() -> dict:
    """Parameters of RAW_SQL: the default 30-day horizon and new-account look-back."""
    today = NOW.date()
    return {
        "horizon": today + timedelta(days=30),
        "first": today - timedelta(days=30),
        "today": today,
    }


def run_floor_minimal(url: str) -> tuple[float, int]:
    """Seconds for the raw statement's SELECT written into a table with nothing but what the
    issue itself requires of visits: an identity key and the one-open-visit unique index (no
    other index, no foreign key)."""
    import psycopg2

    select = RAW_SQL.replace("CREATE TABLE bench_due AS", "")
    reset(url)  # the state the raw statement and the first run saw
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "DROP TABLE IF EXISTS bench_minimal; "
            "CREATE TABLE bench_minimal (LIKE visits_visit INCLUDING DEFAULTS INCLUDING IDENTITY); "
            "ALTER TABLE bench_minimal ADD PRIMARY KEY (id); "
            "CREATE UNIQUE INDEX ON bench_minimal (account_id, kind) "
            "WHERE status IN ('pending', 'assigned', 'in_progress')"
        )
        checkpoint(url)
        started = time.perf_counter()
        cur.execute(
            "INSERT INTO bench_minimal (account_id, branch_id, kind, status, priority, "
            "suspected_fraud, due_at, channel, phone_attempts, reason, unreachable_reason, "
            "cancelled_reason, created_at, updated_at) "
            "SELECT s.account_id, 1, s.kind, 'pending', 50, FALSE, COALESCE(s.due_at, now()), "
            f"'phone', 0, '', '', '', now(), now() FROM ({select}) s ORDER BY s.account_id",
            _raw_params(),
        )
        seconds = time.perf_counter() - started
        rows = cur.rowcount
        cur.execute("DROP TABLE bench_minimal")
    conn.close()
    return seconds, rows


def checkpoint(url: str) -> None:
    """A CHECKPOINT before each timed phase: the dirty pages and the WAL of what came before
    (the build, a reset, the scratch due set) are written out first, not by the checkpointer
    in the middle of the phase (on this machine the floor alone ranged from 25 to 34 s)."""
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CHECKPOINT")
    conn.close()


def run_floor(url: str) -> tuple[float, int]:
    """Seconds to write the raw due set into visits_visit (one statement, committed)."""
    import psycopg2

    reset(url)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_due")
        cur.execute(
            RAW_SQL,
            _raw_params(),
        )
        checkpoint(url)
        started = time.perf_counter()
        cur.execute("BEGIN")
        cur.execute(FLOOR_SQL, {"now": NOW})
        rows = cur.rowcount
        cur.execute("COMMIT")
        seconds = time.perf_counter() - started
        cur.execute("DROP TABLE bench_due")
    conn.close()
    return seconds, rows


def run_raw(url: str) -> tuple[float, int]:
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_due")
        checkpoint(url)
        started = time.perf_counter()
        cur.execute(
            RAW_SQL,
            _raw_params(),
        )
        seconds = time.perf_counter() - started
        cur.execute("SELECT count(*) FROM bench_due")
        rows = cur.fetchone()[0]
        cur.execute("DROP TABLE bench_due")
    conn.close()
    return seconds, rows


# --- The job, in a child process -----------------------------------------------------------------


def job() -> None:
    setup_django(os.environ["DATABASE_URL"])
    from django.conf import settings

    # The reference SQL hard-codes the default horizon and look-back; so does this run.
    settings.CALLBACK["GENERATION_HORIZON_DAYS"] = 30
    settings.CALLBACK["NEW_ACCOUNT_LOOKBACK_DAYS"] = 30
    from visits.generation import generate_due_visits

    now = datetime.fromisoformat(os.environ.get("BENCH_NOW", NOW.isoformat()))
    started = time.perf_counter()
    created = generate_due_visits(now=now)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"created": created, "seconds": seconds, "peak_mb": peak_kb / 1024}))


def run_job(url: str, now: datetime = NOW) -> dict:
    env = {**os.environ, "DATABASE_URL": url, "BENCH_NOW": now.isoformat()}
    checkpoint(url)
    out = subprocess.run(
        [sys.executable, __file__, "--job"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    url = bench_url()
    ensure_database(url)
    setup_django(url)
    print(
        f"database: {urlsplit(url).path.lstrip('/')}; {ACCOUNTS:,} accounts, {CUSTOMERS:,} customers, "
        f"{COMPLETED:,} completed visits",
        flush=True,
    )
    started = time.perf_counter()
    if reusable():
        from django.core.management import call_command

        call_command("migrate", verbosity=0)  # the schema of this checkout
        reset(url)
        print(
            f"reused the data of an earlier run, visits reset in {time.perf_counter() - started:.1f} s"
        )
    else:
        build(url)
        print(f"built with COPY in {time.perf_counter() - started:.1f} s", flush=True)

    raw_seconds, raw_rows = run_raw(url)
    print(
        f"raw SQL (one statement into a scratch table): {raw_seconds:.2f} s, {raw_rows:,} due accounts",
        flush=True,
    )
    first = run_job(url)
    created = sum(first["created"].values())
    print(
        f"generate_due_visits, first run: {first['seconds']:.2f} s, created {first['created']}, "
        f"peak memory {first['peak_mb']:.0f} MB",
        flush=True,
    )
    second = run_job(url)
    print(
        f"generate_due_visits, second run: {second['seconds']:.2f} s, created {second['created']}, "
        f"peak memory {second['peak_mb']:.0f} MB",
        flush=True,
    )

    next_night = NOW + timedelta(days=1)
    daily = run_job(url, next_night)
    print(
        f"generate_due_visits, next night (daily run): {daily['seconds']:.2f} s, "
        f"created {daily['created']} ({sum(daily['created'].values()) / ACCOUNTS:.2%} of the "
        f"accounts)",
        flush=True,
    )
    noop = run_job(url, next_night)
    print(
        f"generate_due_visits, same night again (nothing due): {noop['seconds']:.2f} s, "
        f"created {noop['created']}",
        flush=True,
    )

    minimal_seconds, minimal_rows = run_floor_minimal(url)
    print(
        f"for reading the ratio: the raw SELECT written into a table with only an identity key "
        f"and the one-open-visit unique index (no other index, no foreign key): "
        f"{minimal_seconds:.2f} s for {minimal_rows:,} rows = {minimal_seconds / raw_seconds:.1f} x raw SQL",
        flush=True,
    )

    def floor() -> float:
        seconds, rows = run_floor(url)
        print(
            f"floor: the raw due set INSERTed by hand into visits_visit (indexes, foreign keys, "
            f"commit): {seconds:.2f} s for {rows:,} rows = {seconds / raw_seconds:.1f} x raw SQL",
            flush=True,
        )
        return seconds

    def cold_again() -> dict:
        reset(url)  # the state of the first run again
        run = run_job(url)
        print(
            f"generate_due_visits, cold start again: {run['seconds']:.2f} s, created "
            f"{run['created']}, peak memory {run['peak_mb']:.0f} MB",
            flush=True,
        )
        return run

    # Three pairs, each a cold start next to a floor: (first, floor), (floor, cold), (cold,
    # floor).
    floors = [floor(), floor()]
    agains = [cold_again(), cold_again()]
    floors.append(floor())
    colds = [first["seconds"], *(run["seconds"] for run in agains)]
    pairs = [c / f for c, f in zip(colds, floors, strict=True)]

    same = all(sum(run["created"].values()) == raw_rows for run in (first, *agains))
    nothing_twice = sum(second["created"].values()) == 0 and sum(noop["created"].values()) == 0
    cold = statistics.median(pairs)
    second_first = second["seconds"] / first["seconds"]
    daily_noop = daily["seconds"] / noop["seconds"]
    peak = max(run["peak_mb"] for run in (first, second, daily, noop, *agains))
    print(f"same due set as the raw SQL: {'yes' if same else 'NO'} ({created:,} vs {raw_rows:,})")
    print(f"second runs created nothing: {'yes' if nothing_twice else 'NO'}")
    print(
        "cold start / same-table insert, pair by pair: "
        + ", ".join(f"{c:.2f}/{f:.2f} = {r:.2f}" for c, f, r in zip(colds, floors, pairs))
        + f"; median {cold:.2f} (target <= 1.2; sums: {sum(colds) / sum(floors):.2f})"
    )
    print(f"second run / first run = {second_first:.3f} (target <= 0.1)")
    print(f"daily run / run with nothing due = {daily_noop:.2f} (target <= 1.5)")
    print(f"peak memory of the job = {peak:.0f} MB (target < 300)")
    print(
        _harness.result_line(
            "generate",
            cold_vs_same_table_insert=cold,
            rerun_vs_first=second_first,
            daily_vs_noop=daily_noop,
            peak_mb=round(peak),
        )
    )
    return 0 if same and nothing_twice else 1


if __name__ == "__main__":
    if "--job" in sys.argv:
        job()
    else:
        sys.exit(main())
