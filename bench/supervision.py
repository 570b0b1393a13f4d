"""Supervision benchmark: the dashboard and a 100,000-row export on a million visits.

    .venv/bin/python bench/supervision.py [--quick]        (or: make bench)

Uses its own PostgreSQL database ``<DATABASE_URL's name>_sup`` on the same server (see
``_harness.bench_database_url``), seeded once in bulk with SQL
(1,000,000 visits over the last year, records and contact attempts for the last 30 days) and
reused by later runs. Everything is measured in this process with Django's test Client, so the
figures are server time (no network), and compared with the health endpoint measured in the
same run:

- dashboard (30 days, every branch) / health: median ratio; printed beside it (not in the
  RESULT line) the first view after a roll-up refresh (the closed days' figures, cached under
  the roll-ups' version, read again) and the floor, the same page over a period with no visit;
- CSV export of 100,000 visits / health, and its rows per second;
- peak Python memory (tracemalloc) of the CSV export at 10,000 and at 100,000 rows: the ratio
  stays near 1 because rows stream from a server-side cursor (``.iterator(chunk_size=2000)``).

The dashboard reads the daily roll-ups for closed days: the seed builds them once with the
nightly reconciliation. The last line:
``RESULT supervision dashboard_vs_health=<x> export_mem_100k_vs_10k=<x>``. ``--quick``: 40,000
visits (windows of 1,000 and 10,000 rows).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import _harness  # noqa: E402 - bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUICK = _harness.quick_flag()
DATABASE_URL = _harness.bench_database_url("sup_quick" if QUICK else "sup")
VISITS = int(os.environ.get("BENCH_SUP_VISITS", "40000" if QUICK else "1000000"))
SMALL, BIG = (1_000, 10_000) if QUICK else (10_000, 100_000)
ACCOUNTS = VISITS // 4  # (account, kind) pairs are then all distinct: no open-visit clash
CUSTOMERS = max(ACCOUNTS // 2, 1)
AGENTS = 60
SEEN = "(now() - interval '15 minutes')"  # where the seeded history ends (see seed())
BRANCHES = 12
BUSY_VISITS = 600


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_database() -> None:
    _harness.ensure_database(DATABASE_URL)


def setup_django() -> None:
    _harness.setup_django_on(DATABASE_URL)


def _defaults_sql(model, given: dict[str, str]) -> tuple[str, str]:
    """Column list and SELECT expressions: ``given`` SQL expressions, every other NOT NULL
    column from its model default (so the seed follows the model as it grows)."""
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.attname in given:
            columns.append(field.column)
            values.append(given[field.attname])
            continue
        if field.null:
            continue
        default = field.get_default()
        if callable(getattr(field, "default", None)) and isinstance(default, dt.datetime):
            values.append("now()")
        elif isinstance(default, bool):
            values.append("true" if default else "false")
        elif isinstance(default, (int, float)):
            values.append(str(default))
        elif isinstance(default, (dict, list)):
            values.append(f"'{json.dumps(default)}'::jsonb")
        else:
            values.append("'" + str(default or "").replace("'", "''") + "'")
        columns.append(field.column)
    return ", ".join(columns), ", ".join(values)


def seed() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from accounts.models import Account, Branch, Customer, Role
    from accounts.services import staff_create
    from core.crypto import stored_columns
    from visits.models import ContactAttempt, Visit, VisitRecord

    if Visit.objects.count() >= VISITS:
        log(f"reusing the seeded database ({VISITS:,} visits)")
        _harness.vacuum_once(log)
        return
    started = time.monotonic()
    log(f"seeding {VISITS:,} visits, {ACCOUNTS:,} accounts (once; later runs reuse them)")
    branches = [
        Branch.objects.get_or_create(code=f"B{n:03d}", defaults={"name": f"第{n}支行"})[0]
        for n in range(BRANCHES)
    ]
    User = get_user_model()

    def staff(username, role, full_name, scope):
        existing = User.objects.filter(username=username).first()  # a run stopped half-way
        return existing or staff_create(
            username=username, password="x-Bench-2026!", role=role, full_name=full_name,
            branches=scope,
        )  # fmt: skip

    agents = [
        staff(f"bench_agent{n}", Role.AGENT, f"回访员{n}", [branches[n % BRANCHES]])
        for n in range(AGENTS)
    ]
    staff("bench_super", Role.SUPERVISOR, "督导", branches)
    agent_ids = "ARRAY[" + ",".join(str(a.pk) for a in agents) + "]"
    branch_ids = "ARRAY[" + ",".join(str(b.pk) for b in branches) + "]"
    # Encrypted columns get a placeholder: nothing here decrypts them (exports never read them).
    customer_cols, customer_vals = _defaults_sql(
        Customer,
        {
            "external_id": "'BS' || g",
            "customer_type": "'personal'",
            "name": "'客户' || g",
            "id_type": "'resident_id'",
            "id_number": "'-'",
            "id_number_hash": "md5('id' || g)",
            "mobile": "'-'",
            "mobile_hash": "md5('m' || g)",
            "landline": "''",
            "landline_hash": "''",
            "address": "''",
            "risk_level": "'low'",
            "branch_id": f"({branch_ids})[1 + g % {BRANCHES}]",
            "created_at": "now()",
            "updated_at": "now()",
        },
    )
    # Account numbers as the ORM stores them (encrypted, blind index, masked copy): the masked
    # export reads the masked copy, an unmasked one decrypts.
    sealed = [stored_columns(Account, number=f"62{g:014d}") for g in range(ACCOUNTS)]
    account_cols, account_vals = _defaults_sql(
        Account,
        {
            "number": "s.number",
            "number_index": "s.number_index",
            "number_masked": "s.number_masked",
            "customer_id": f"(SELECT min(id) FROM accounts_customer) + g % {CUSTOMERS}",
            "account_type": "'personal_savings'",
            "status": "'active'",
            "opened_on": "current_date - 400",
            "branch_id": f"({branch_ids})[1 + (g % {CUSTOMERS}) % {BRANCHES}]",
            "created_at": "now()",
            "updated_at": "now()",
        },
    )
    # Visit g: account g mod ACCOUNTS, kind g div ACCOUNTS (so no two open visits share an
    # account and kind); due over the last year; 80 % completed, the rest open. The history
    # ends a quarter of an hour before the seed (SEEN): nothing in it was done in the minutes
    # before the measurement, as on a quiet moment of a working day, and nothing is completed
    # or attempted in the future. (A seed stamped with its own time looked to the dashboard
    # like a million visits changed in the last minutes, a bulk change: it then reads today
    # live, or corrects today visit by visit, and the figure is that of a busy moment.)
    kinds = "(ARRAY['new_account','periodic','special_event','follow_up'])"
    completed = f"{SEEN} - ((g % 365) || ' days')::interval - ((g % 7) || ' hours')::interval"
    created = f"{SEEN} - ((g % 365 + 5) || ' days')::interval"
    visit_cols, visit_vals = _defaults_sql(
        Visit,
        {
            "account_id": f"a0 + g % {ACCOUNTS}",
            "branch_id": f"({branch_ids})[1 + ((g % {ACCOUNTS}) % {CUSTOMERS}) % {BRANCHES}]",
            "kind": f"{kinds}[1 + (g / {ACCOUNTS}) % 4]",
            "status": "CASE WHEN g % 10 < 8 THEN 'completed' WHEN g % 10 = 8 THEN 'assigned' ELSE 'pending' END",
            "assigned_to_id": f"CASE WHEN g % 10 < 9 THEN ({agent_ids})[1 + g % {AGENTS}] END",
            "due_at": f"{SEEN} - ((g % 365) || ' days')::interval + ((g % 600) || ' minutes')::interval",
            "completed_at": f"CASE WHEN g % 10 < 8 THEN {completed} END",
            "created_at": created,
            # Last changed when completed, or when created (still open).
            "updated_at": f"CASE WHEN g % 10 < 8 THEN {completed} ELSE {created} END",
        },
    )
    record_cols, record_vals = _defaults_sql(
        VisitRecord,
        {
            "visit_id": "v.id",
            "channel": "'phone'",
            "submitted_at": "v.completed_at",
            "submitted_by_id": "v.assigned_to_id",
            "reminder_anti_fraud": "true",
            "reminder_safe_operation": "true",
            "satisfaction": "CASE WHEN v.id % 4 = 0 THEN NULL ELSE 3 + v.id % 3 END",
        },
    )
    attempt_cols, attempt_vals = _defaults_sql(
        ContactAttempt,
        {
            "visit_id": "v.id",
            "channel": "'phone'",
            "agent_id": "v.assigned_to_id",
            "started_at": f"LEAST(v.due_at - interval '3 hours', {SEEN})",
            "outcome": "CASE WHEN v.status = 'completed' THEN 'reached' ELSE 'no_answer' END",
        },
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO accounts_customer ({customer_cols}) "
            f"SELECT {customer_vals} FROM generate_series(0, {CUSTOMERS - 1}) g"
        )
        cursor.execute(
            f"INSERT INTO accounts_account ({account_cols}) "
            f"SELECT {account_vals.replace('%', '%%')} "
            "FROM unnest(%s::text[], %s::text[], %s::text[]) "
            "WITH ORDINALITY AS s(number, number_index, number_masked, n), "
            "LATERAL (SELECT (s.n - 1)::int AS g) AS position ORDER BY s.n",
            [[row[name] for row in sealed] for name in ("number", "number_index", "number_masked")],
        )
        cursor.execute(
            f"INSERT INTO visits_visit ({visit_cols}) SELECT {visit_vals} FROM "
            f"(SELECT g, (SELECT min(id) FROM accounts_account) AS a0 "
            f" FROM generate_series(0, {VISITS - 1}) g) s"
        )
        recent = "v.due_at >= now() - interval '30 days'"
        cursor.execute(
            f"INSERT INTO visits_visitrecord ({record_cols}) SELECT {record_vals} "
            f"FROM visits_visit v WHERE v.status = 'completed' AND {recent}"
        )
        cursor.execute(
            f"INSERT INTO visits_contactattempt ({attempt_cols}) SELECT {attempt_vals} "
            f"FROM visits_visit v WHERE v.assigned_to_id IS NOT NULL AND {recent}"
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    _harness.vacuum_once(log)
    log(f"seeded in {time.monotonic() - started:.0f} s")


def busy_dashboard(view) -> float:
    """The dashboard (median of 5) with BUSY_VISITS of the last 30 days' visits changed in the
    last ten minutes and half of them called, as agents at work leave them: today's roll-up is
    then corrected visit by visit (``activity_today_delta``). Done in a transaction rolled back
    afterwards (the page reads the primary inside it), so the seeded history stays quiet for
    later runs."""
    from django.db import connection, transaction

    from visits.models import ContactAttempt

    cols, vals = _defaults_sql(
        ContactAttempt,
        {
            "visit_id": "v.id",
            "channel": "'phone'",
            "agent_id": "v.assigned_to_id",
            "started_at": "now() - (v.id % 10 || ' minutes')::interval",
            "outcome": "CASE WHEN v.id % 4 = 0 THEN 'no_answer' ELSE 'reached' END",
        },
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE bench_busy ON COMMIT DROP AS "
                "SELECT id FROM visits_visit WHERE assigned_to_id IS NOT NULL "
                "AND due_at >= now() - interval '30 days' ORDER BY id LIMIT %s",
                [BUSY_VISITS],
            )
            cursor.execute(
                "UPDATE visits_visit v SET updated_at = now() - (v.id % 10 || ' minutes')::interval "
                "FROM bench_busy b WHERE b.id = v.id"
            )
            assert cursor.rowcount == BUSY_VISITS, cursor.rowcount
            cursor.execute(
                f"INSERT INTO visits_contactattempt ({cols}) SELECT {vals} "
                "FROM visits_visit v JOIN bench_busy b ON b.id = v.id WHERE v.id % 2 = 0"
            )
        view()
        seconds = median_seconds(view, 5)
        transaction.set_rollback(True)
    return seconds


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    ensure_database()
    setup_django()
    seed()
    from supervision.rollups import rollups_refresh

    started = time.monotonic()
    days = rollups_refresh()  # the first run builds every day; later ones only what changed
    log(f"roll-ups refreshed: {days} days in {time.monotonic() - started:.1f} s")

    from django.contrib.auth import get_user_model
    from django.db.models import Count
    from django.test import Client
    from django.utils import timezone

    from visits.models import Visit

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench_super"))

    def get(path, **params):
        response = client.get(path, params)
        assert response.status_code == 200, (path, response.status_code)
        return response

    def export(since: dt.date, until: dt.date) -> int:
        response = get(
            "/supervision/export/visits.csv", since=since.isoformat(), until=until.isoformat()
        )
        size = 0
        for chunk in response.streaming_content:
            size += len(chunk)
        return size

    # Date windows giving about 10,000 and 100,000 visits (counted by the database).
    today = timezone.localdate()
    per_day = dict(
        Visit.objects.filter(due_at__gte=timezone.now() - dt.timedelta(days=400))
        .values_list("due_at__date")
        .annotate(n=Count("pk"))
        .values_list("due_at__date", "n")
    )

    def window(target: int) -> tuple[dt.date, int]:
        total, day = 0, today
        while total < target and day > today - dt.timedelta(days=400):
            total += per_day.get(day, 0)
            day -= dt.timedelta(days=1)
        return day + dt.timedelta(days=1), total

    small_since, small_rows = window(SMALL)
    big_since, big_rows = window(BIG)

    get("/api/v1/health")
    get("/supervision/")  # warm up: permission and session caches, templates
    # Called in turn (three health checks, one dashboard), so that the ratio compares calls made
    # at the same moments (see _harness.interleaved_medians).
    health, dashboard = _harness.interleaved_medians(
        lambda: client.get("/api/v1/health"), lambda: get("/supervision/"), 9, per_round=3
    )
    # The floor: the same page over a period with no visit at all (every statement still runs,
    # on no rows): what the page costs whatever the figures.
    empty = {"since": "2001-01-01", "until": "2001-01-30"}
    get("/supervision/", **empty)
    floor = median_seconds(lambda: get("/supervision/", **empty), 5)
    # The first view after a roll-up refresh: the closed days' figures not cached yet.
    from django.core.cache import cache

    def cold():
        cache.clear()
        get("/supervision/")

    dashboard_cold = median_seconds(cold, 5)
    dashboard_busy = busy_dashboard(lambda: get("/supervision/"))
    export_small = median_seconds(lambda: export(small_since, today), 3)
    export_big = median_seconds(lambda: export(big_since, today), 3)

    peaks = {}
    for label, since in (("10k", small_since), ("100k", big_since)):
        tracemalloc.start()
        export(since, today)
        peaks[label] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

    visits = Visit.objects.count()
    print(f"visits in the database: {visits:,}")
    print(f"health endpoint: {health * 1000:.1f} ms (median of 27, called in turn with the next)")
    print(f"dashboard (30 days, {visits:,} visits): {dashboard * 1000:.0f} ms (median of 9)")
    print(
        f"dashboard, first view after a roll-up refresh (closed days not cached): "
        f"{dashboard_cold * 1000:.0f} ms ({dashboard_cold / health:.1f}x health)"
    )
    print(
        f"dashboard at a busy moment ({BUSY_VISITS} visits changed in the last ten minutes, half "
        f"of them with a call: {AGENTS} agents, one visit a minute each): "
        f"{dashboard_busy * 1000:.0f} ms ({dashboard_busy / health:.1f}x health)"
    )
    print(
        f"floor: the dashboard over 30 days with no visit: {floor * 1000:.0f} ms "
        f"({floor / health:.1f}x health; the 30 days cost {(dashboard - floor) * 1000:.0f} ms more)"
    )
    print(f"CSV export {small_rows:,} rows: {export_small * 1000:.0f} ms")
    print(
        f"CSV export {big_rows:,} rows: {export_big * 1000:.0f} ms "
        f"({big_rows / export_big:,.0f} rows/s)"
    )
    print(
        f"peak Python memory of the CSV export: {peaks['10k'] / 1e6:.1f} MB at {small_rows:,} rows, "
        f"{peaks['100k'] / 1e6:.1f} MB at {big_rows:,} rows"
    )
    print(
        f"ratios: dashboard/health {dashboard / health:.0f}x; "
        f"export {big_rows // 1000}k/health {export_big / health:.0f}x; "
        f"export time {big_rows // 1000}k/{small_rows // 1000}k {export_big / export_small:.1f}x "
        f"for {big_rows / small_rows:.1f}x rows; "
        f"export memory {big_rows // 1000}k/{small_rows // 1000}k {peaks['100k'] / peaks['10k']:.2f}x"
    )
    print("targets: dashboard/health <= 10, export memory 100k/10k <= 1.5")
    print(
        _harness.result_line(
            "supervision",
            dashboard_vs_health=dashboard / health,
            export_mem_100k_vs_10k=peaks["100k"] / peaks["10k"],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
