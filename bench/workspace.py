"""Agent-workspace benchmark: the worklist, the call screen and "next visit" on a
table of 1,000,000 visits of which 100,000 are open.

    .venv/bin/python bench/workspace.py [--quick]        (or: make bench)

Uses its own PostgreSQL database ``<DATABASE_URL's name>_work`` on the same server (see
``_harness.bench_database_url``; BENCH_WORK_DATABASE_URL overrides), seeded
once in bulk with ``INSERT ... SELECT generate_series`` and reused by later runs. Requests go
through Django's test Client in this process, so the figures are server time (no network);
each page is compared with the health endpoint called in turn with it (medians of N each), and its
query count is printed: it must not grow with the data. "empty worklist" is the floor: the same
page filtered to no visit (login, scope, counts, menu, layout, session). The last line:
``RESULT workspace worklist_vs_health=<x> call_screen_vs_health=<x>``. ``--quick``: 20,000 visits.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import _harness  # noqa: E402 - bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUICK = _harness.quick_flag()
DATABASE_URL = os.environ.get("BENCH_WORK_DATABASE_URL") or _harness.bench_database_url(
    "work_quick" if QUICK else "work"
)
VISITS = int(os.environ.get("BENCH_WORK_VISITS", "20000" if QUICK else "1000000"))
OPEN_SHARE = 10  # one visit in ten is open: 100,000 of 1,000,000
ACCOUNTS = VISITS // 4  # visit g: account g mod ACCOUNTS, kind g div ACCOUNTS: no open clash
CUSTOMERS = max(ACCOUNTS // 2, 1)
BRANCHES = 10
AGENTS = 50
RUNS = int(os.environ.get("BENCH_WORK_RUNS", "5" if QUICK else "30"))
# Bumped when the seeded layout changes, so an older seeded database is rebuilt.
LAYOUT = "bench-layout-2"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_database() -> None:
    _harness.ensure_database(DATABASE_URL)


def setup_django() -> None:
    _harness.setup_django_on(DATABASE_URL)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def seed() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from accounts.models import Account, Branch, Role
    from accounts.services import staff_create
    from core.crypto import encrypt, stored_columns
    from visits.models import Visit

    if (
        Visit.objects.count() >= VISITS
        and Branch.objects.filter(code="W000", address=LAYOUT).exists()
    ):
        log(f"reusing the seeded database ({VISITS:,} visits)")
        _harness.vacuum_once(log)
        return
    started = time.monotonic()
    log(f"seeding {VISITS:,} visits ({VISITS // OPEN_SHARE:,} open), once; later runs reuse them")
    branches = [
        Branch.objects.get_or_create(code=f"W{n:03d}", defaults={"name": f"第{n}支行"})[0]
        for n in range(BRANCHES)
    ]
    User = get_user_model()
    agents = []
    for n in range(AGENTS):
        username = f"work_agent{n}"
        agents.append(
            User.objects.filter(username=username).first()
            or staff_create(
                username=username,
                password="x-Bench-2026!",
                role=Role.AGENT,
                full_name=f"回访员{n}",
                branches=[branches[n % BRANCHES]],
            )  # fmt: skip
        )
    Branch.objects.filter(code="W000").update(address="")  # marked done at the end
    agent_ids = "ARRAY[" + ",".join(str(a.pk) for a in agents) + "]"
    branch_ids = "ARRAY[" + ",".join(str(b.pk) for b in branches) + "]"
    # Every customer carries the same real ciphertexts, so the call screen decrypts as usual.
    enc = {
        "id": encrypt("110101199003074514"),
        "mobile": encrypt("13800138000"),
        "landline": encrypt("010-12345678"),
        "address": encrypt("北京市东城区东长安街1号"),
    }
    with transaction.atomic(), connection.cursor() as c:
        c.execute("TRUNCATE visits_visit, accounts_account, accounts_customer CASCADE")
        c.execute(
            f"""
            INSERT INTO accounts_customer (external_id, customer_type, name, id_type, id_number,
                id_number_hash, id_expiry, mobile, mobile_hash, email, landline,
                address, risk_level, marketing_consent, do_not_contact, branch_id,
                legal_hold, created_at, updated_at)
            SELECT 'W' || g, 'personal', '客户' || g, 'resident_id', {_quote(enc["id"])},
                md5('id' || g), DATE '2030-05-01', {_quote(enc["mobile"])}, md5('m' || g),
                'c' || g || '@example.com', {_quote(enc["landline"])},
                {_quote(enc["address"])}, 'low', g % 3 = 0,
                false, ({branch_ids})[1 + (g / 7) % {BRANCHES}], false, now(), now()
            FROM generate_series(0, {CUSTOMERS - 1}) g
            """
        )
        # Account numbers encrypted, with their blind index and masked copy, as the ORM would.
        sealed = [stored_columns(Account, number=f"62{g:014d}") for g in range(ACCOUNTS)]
        c.execute(
            f"""
            INSERT INTO accounts_account (number, number_index, number_masked, customer_id,
                account_type, status, opened_on, branch_id, legal_hold, created_at, updated_at)
            SELECT s.number, s.number_index, s.number_masked,
                (SELECT min(id) FROM accounts_customer) + g %% {CUSTOMERS}, 'personal_savings',
                'active', current_date - 400, ({branch_ids})[1 + ((g %% {CUSTOMERS}) / 7) %% {BRANCHES}],
                false, now(), now()
            FROM unnest(%s::text[], %s::text[], %s::text[])
                WITH ORDINALITY AS s(number, number_index, number_masked, n),
                LATERAL (SELECT (s.n - 1)::int AS g) AS position
            ORDER BY s.n
            """,
            [[row[name] for row in sealed] for name in ("number", "number_index", "number_masked")],
        )
        # Visit g: open when g mod 10 = 0 (half of those assigned to the branch's agents, half
        # waiting for "next visit"), completed otherwise; due over a year around today.
        c.execute(
            f"""
            INSERT INTO visits_visit (account_id, branch_id, kind, status, priority,
                suspected_fraud, due_at, channel, assigned_to_id, assigned_at, callback_at,
                phone_attempts, reason, unreachable_reason, cancelled_reason, created_at,
                updated_at, completed_at)
            SELECT a0 + g % {ACCOUNTS},
                ({branch_ids})[1 + (((g % {ACCOUNTS}) % {CUSTOMERS}) / 7) % {BRANCHES}],
                (ARRAY['new_account','periodic','special_event','follow_up'])[1 + (g / {ACCOUNTS}) % 4],
                CASE WHEN g % {OPEN_SHARE} <> 0 THEN 'completed'
                     WHEN g % {OPEN_SHARE * 2} = 0 THEN 'assigned' ELSE 'pending' END,
                10 + g % 80, false,
                now() + (((g % 360) - 180) || ' days')::interval + ((g % 600) || ' minutes')::interval,
                'phone',
                CASE WHEN g % {OPEN_SHARE} <> 0 OR g % {OPEN_SHARE * 2} = 0
                     THEN ({agent_ids})[1 + (((g % {ACCOUNTS}) % {CUSTOMERS}) / 7) % {BRANCHES}
                                          + {BRANCHES} * ((g / {OPEN_SHARE * 2}) % {AGENTS // BRANCHES})] END,
                CASE WHEN g % {OPEN_SHARE} <> 0 OR g % {OPEN_SHARE * 2} = 0 THEN now() END,
                CASE WHEN g % {OPEN_SHARE * 2} = 0 AND g % 7 = 0
                     THEN now() + ((g % 48) || ' hours')::interval END,
                0, 'bench', '', '', now() - interval '400 days', now(),
                CASE WHEN g % {OPEN_SHARE} <> 0 THEN now() - ((g % 365) || ' days')::interval END
            FROM generate_series(0, {VISITS - 1}) g,
                 (SELECT min(id) AS a0 FROM accounts_account) base
            """
        )
        # Records for a tenth of the completed visits (the call screen lists previous visits).
        c.execute(
            """
            INSERT INTO visits_visitrecord (visit_id, channel, submitted_at, submitted_by_id,
                mobile_status, email_status, landline_status, address_status, reported_changes,
                id_expiry_checked, transactions_reviewed, usage_frequency, amount_range,
                usage_channels, online_banking, mobile_banking, sms_alerts, channel_feedback,
                needs, needs_note, reminder_anti_fraud, reminder_safe_operation, feedback,
                satisfaction, handling, problem, answers)
            SELECT id, 'phone', completed_at, assigned_to_id, 'confirmed', 'not_asked',
                'not_asked', 'confirmed', '{}', false, false, '', '', '[]', 'uses', 'uses',
                'unknown', '', '[]', '', true, true, '正常', 4, 'no_problem', '', '{}'
            FROM visits_visit WHERE status = 'completed' AND id % 10 = 1
            """
        )
    Branch.objects.filter(code="W000").update(address=LAYOUT)
    with connection.cursor() as c:
        c.execute("ANALYZE")
    _harness.vacuum_once(log)
    log(f"seeded in {time.monotonic() - started:.0f} s")


def _against_health(client, url: str) -> tuple[float, float, int, int]:
    """(median ms of the page, median ms of the health endpoint called in turn with it, queries
    of the page's last request, its last status): see ``_harness.interleaved_medians``."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        client.get(url)
        client.get("/api/v1/health")
    health, page = _harness.interleaved_medians(
        lambda: client.get("/api/v1/health"), lambda: client.get(url), RUNS, per_round=3
    )
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    return page * 1000, health * 1000, len(ctx.captured_queries), response.status_code


def measure() -> tuple[list[str], float, float]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from visits.models import Visit
    from workspace.services import visit_claim_next

    agent = get_user_model().objects.get(username="work_agent0")
    mine = Visit.objects.filter(assigned_to=agent, status__in=["assigned", "in_progress"])
    open_total = Visit.objects.filter(status__in=["pending", "assigned", "in_progress"]).count()
    log(
        f"workspace: {Visit.objects.count():,} ({open_total:,} open); the agent's open visits: "
        f"{mine.count():,}; pending in the agent's branch: "
        f"{Visit.objects.filter(status='pending', branch__code='W000').count():,}"
    )
    client = Client()
    client.force_login(agent)
    visit = mine.order_by("due_at").first()
    with CaptureQueriesContext(connection) as ctx:
        status = client.get("/api/v1/health").status_code
    health_q = len(ctx.captured_queries)
    assert status == 200, f"health answered {status}"
    worklist_ms, health_ms, worklist_q, status = _against_health(
        client, reverse("workspace:worklist")
    )
    assert status == 200, f"worklist answered {status}"
    page2_ms, page2_health, page2_q, _ = _against_health(
        client, reverse("workspace:worklist") + "?page=5"
    )
    # The floor: the same page and statements filtered to no visit (the seed has none in
    # progress), so what is left is the page itself (login, scope, counts, menu, layout).
    empty_url = reverse("workspace:worklist") + "?status=in_progress"
    assert 'data-visit="' not in client.get(empty_url).content.decode(), "floor page not empty"
    empty_ms, empty_health, empty_q, _ = _against_health(client, empty_url)
    screen_ms, screen_health, screen_q, status = _against_health(
        client, reverse("workspace:call_screen", args=[visit.pk])
    )
    assert status == 200, f"call screen answered {status}"

    # "Next visit": claim RUNS visits, then give them back.
    claimed, claim_times = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            got = visit_claim_next(agent=agent)
        claim_times.append((time.perf_counter() - started) * 1000)
        claimed.append(got.pk)
    claim_q = len(ctx.captured_queries)
    Visit.objects.filter(pk__in=claimed).update(
        status="pending", assigned_to=None, assigned_at=None
    )
    claim_ms = statistics.median(claim_times)
    lines = [
        f"health:            {health_ms:7.2f} ms median (called in turn with the worklist), "
        f"{health_q} queries",
        f"worklist:          {worklist_ms:7.2f} ms median, {worklist_q} queries, "
        f"ratio to health {worklist_ms / health_ms:.2f}",
        f"worklist page 5:   {page2_ms:7.2f} ms median, {page2_q} queries, "
        f"ratio to health {page2_ms / page2_health:.1f}",
        f"empty worklist:    {empty_ms:7.2f} ms median, {empty_q} queries, "
        f"ratio to health {empty_ms / empty_health:.2f} (the floor of the page)",
        f"call screen:       {screen_ms:7.2f} ms median, {screen_q} queries, "
        f"ratio to health {screen_ms / screen_health:.2f} (health {screen_health:.2f} ms)",
        f"next visit (claim):{claim_ms:7.2f} ms median, {claim_q} queries, "
        f"ratio to health {claim_ms / health_ms:.1f}",
    ]
    return lines, worklist_ms / health_ms, screen_ms / screen_health


def main() -> int:
    ensure_database()
    setup_django()
    seed()
    lines, worklist, screen = measure()
    for line in lines:
        print(line)
    print(f"on {VISITS:,} visits ({VISITS // OPEN_SHARE:,} open); targets <= 5")
    print(
        _harness.result_line("workspace", worklist_vs_health=worklist, call_screen_vs_health=screen)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
