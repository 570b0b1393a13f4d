"""Load test (``make load``): 50 agents working visits through the pages while core banking
posts event batches, on PostgreSQL + Redis + gunicorn + a Celery worker, all private to this
run and on 127.0.0.1 only (bench/_harness.py).

Bounded: LOAD_SECONDS (60) of load and at most LOAD_MAX_REQUESTS (20,000) requests. Prints
throughput, p50/p95/p99 per page and endpoint, the errors, and a final line with the targets:
0 errors, and the worklist's p95 under 5 x the health endpoint's p95 measured in the same run.

Environment: LOAD_AGENTS (50), LOAD_SECONDS (60), LOAD_MAX_REQUESTS, LOAD_WEB_WORKERS (2 per
CPU, at least 3) with LOAD_WEB_THREADS (4) each, LOAD_SPAWN_RATE (2 agents/s), LOAD_ACCOUNTS (20,000 extra accounts with due visits), LOAD_BATCH_SIZE (100).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ROOT, VENV_BIN, Stack, http, log  # noqa: E402

AGENTS = int(os.environ.get("LOAD_AGENTS", "50"))
SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))
MAX_REQUESTS = int(os.environ.get("LOAD_MAX_REQUESTS", "20000"))
EXTRA_ACCOUNTS = int(os.environ.get("LOAD_ACCOUNTS", "20000"))
WEB_WORKERS = int(os.environ.get("LOAD_WEB_WORKERS", max(3, 2 * (os.cpu_count() or 1))))
BATCH_SIZE = int(os.environ.get("LOAD_BATCH_SIZE", "100"))
WEB_THREADS = int(os.environ.get("LOAD_WEB_THREADS", "4"))
SPAWN_RATE = float(os.environ.get("LOAD_SPAWN_RATE", "2"))
RAMP_SLACK = int(os.environ.get("LOAD_RAMP_SLACK", "30"))
AGENT_PASSWORD = "Load-Agent-Pass-2026!"
OUT = ROOT / "bench" / "out"
WORKLIST = "worklist /visits/"
HEALTH = "GET /api/v1/health"
RATIO_TARGET = 5.0

SEED = """
import json
from datetime import timedelta
from django.utils import timezone
from accounts.models import Account, Branch, Role
from accounts.services import staff_create
from visits.models import Visit, VisitStatus
from _harness import seed_bulk_accounts

counts = seed_bulk_accounts(prefix="LD", accounts={accounts}, customers={customers},
                            opened_days_ago=800)
branches = list(Branch.objects.filter(code__in=["BJ001", "SH001", "GZ001"]).order_by("code"))
agents = []
for i in range({agents}):
    name = f"loadagent{{i + 1:03d}}"
    staff_create(username=name, password="{password}", role=Role.AGENT,
                 full_name=f"压测坐席{{i + 1}}", branches=[branches[i % len(branches)]])
    agents.append([name, "{password}"])
now = timezone.now()
open_accounts = set(Visit.objects.open().filter(kind="periodic").values_list("account_id", flat=True))
visits = [
    Visit(account_id=a_id, branch_id=b_id, kind="periodic", status=VisitStatus.PENDING,
          due_at=now + timedelta(minutes=(a_id % 600) - 300), reason="load test")
    for a_id, b_id in Account.objects.filter(number_masked__startswith="LD").values_list("id", "branch_id")
    if a_id not in open_accounts
]
Visit.objects.bulk_create(visits, batch_size=5000)
numbers = list(Account.objects.filter(number_masked__startswith="LD").values_list("number", flat=True)[:5000])
print(json.dumps({{"agents": agents, "accounts": numbers, "visits": len(visits), **counts}}))
"""

INTEGRITY = """
import json
from django.db.models import Count
from accounts.models import AccountEvent
from visits.models import Visit
dupes = (Visit.objects.open().values("account_id", "kind").annotate(n=Count("id"))
         .filter(n__gt=1).count())
print(json.dumps({
    "duplicate_open_visits": dupes,
    "events": AccountEvent.objects.filter(event_id__startswith="LOAD-").count(),
    "visits_by_status": dict(Visit.objects.order_by().values_list("status").annotate(n=Count("id"))),
}))
"""


def seed(stack: Stack) -> dict:
    log("seed: demo data (seed_demo), then load agents, accounts and due visits")
    demo = stack.manage("seed_demo", check=False)
    if demo.returncode != 0:
        log("seed_demo failed; continuing with the load data only:\n" + demo.stderr[-800:])
    code = SEED.format(
        accounts=EXTRA_ACCOUNTS,
        customers=max(1, EXTRA_ACCOUNTS // 2),
        agents=AGENTS,
        password=AGENT_PASSWORD,
    )
    data = stack.django_json(code, PYTHONPATH=str(ROOT / "bench"))
    log(
        f"seed: {len(data['agents'])} agents, {data['accounts_created']} accounts, {data['visits']} due visits"
    )
    return data


def run_locust(stack: Stack, data: dict, key: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    prefix = OUT / "load"
    for old in OUT.glob("load_*.csv"):
        old.unlink()
    users = AGENTS + 3  # + 2 core-banking clients + 1 health monitor (fixed counts)
    env = {
        **os.environ,
        "LOAD_AGENTS": json.dumps(data["agents"]),
        "LOAD_ACCOUNTS": json.dumps(data["accounts"]),
        "LOAD_API_KEY": key,
        "LOAD_MAX_REQUESTS": str(MAX_REQUESTS),
        "LOAD_BATCH_SIZE": str(BATCH_SIZE),
        "LOAD_AGENT_USERS": str(AGENTS),
        "LOAD_SECONDS": str(SECONDS),
    }
    # Agents log in as they arrive (PBKDF2 at Django's production iteration count costs CPU on
    # purpose); once the last one is in, the statistics start afresh and SECONDS of steady
    # work are measured (bench/_load_users.py). -t only bounds a run whose logins never end.
    ramp = users / SPAWN_RATE + RAMP_SLACK
    cmd = [
        str(VENV_BIN / "locust"), "-f", str(ROOT / "bench" / "_load_users.py"), "--headless",
        "--host", stack.base_url, "-u", str(users), "-r", str(SPAWN_RATE),
        "-t", f"{int(ramp + SECONDS + 300)}s",
        "--csv", str(prefix), "--only-summary", "--stop-timeout", "10",
        "--loglevel", "WARNING", "--exit-code-on-error", "0",
    ]  # fmt: skip
    log(
        f"locust: {AGENTS} agents + 2 core-banking clients + 1 monitor; "
        f"arrivals at {SPAWN_RATE}/s and logins, then {SECONDS} s measured"
    )
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    (OUT / "locust.log").write_text(result.stdout + result.stderr)
    window = [line for line in result.stdout.splitlines() if line.startswith("measurement window")]
    if not window:
        raise RuntimeError("the agents never all logged in; see bench/out/locust.log")
    log(window[0])
    log(f"locust finished in {time.monotonic() - started:.0f} s (exit {result.returncode})")
    if result.returncode not in (0, 1):
        raise RuntimeError(f"locust failed:\n{result.stderr[-2000:]}")
    return prefix


def read_stats(prefix: Path) -> tuple[list[dict], dict, list[dict]]:
    with open(f"{prefix}_stats.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    rows = [r for r in rows if r["Name"] != "Aggregated"]
    failures = []
    if Path(f"{prefix}_failures.csv").exists():
        with open(f"{prefix}_failures.csv", newline="") as handle:
            failures = list(csv.DictReader(handle))
    return rows, total, failures


def _num(row: dict, key: str) -> float:
    try:
        return float(row[key])
    except (KeyError, ValueError):
        return float("nan")


def report(rows, total, failures, integrity: dict, metrics_lines: list[str], load: float) -> bool:
    print()
    print(f"{'page / endpoint':38} {'reqs':>6} {'fail':>5} {'req/s':>6} "
          f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}")  # fmt: skip
    for row in sorted(rows, key=lambda r: r["Name"]):
        print(
            f"{row['Name'][:38]:38} {int(row['Request Count']):>6} {int(row['Failure Count']):>5} "
            f"{_num(row, 'Requests/s'):>6.1f} {_num(row, '50%'):>7.0f} {_num(row, '95%'):>7.0f} "
            f"{_num(row, '99%'):>7.0f} {_num(row, 'Max Response Time'):>7.0f}"
        )
    requests = int(total["Request Count"])
    errors = int(total["Failure Count"])
    print(
        f"{'total':38} {requests:>6} {errors:>5} {_num(total, 'Requests/s'):>6.1f} "
        f"{_num(total, '50%'):>7.0f} {_num(total, '95%'):>7.0f} {_num(total, '99%'):>7.0f}"
    )
    if failures:
        print("\nerrors:")
        for failure in failures[:10]:
            print(f"  {failure['Occurrences']:>5} x {failure['Name']}: {failure['Error'][:160]}")
    print(
        f"\nintegrity: duplicate open visits {integrity['duplicate_open_visits']}, "
        f"events recorded {integrity['events']}, visits by status {integrity['visits_by_status']}"
    )
    if metrics_lines:
        print("/metrics after the run (excerpt):")
        for line in metrics_lines:
            print("  " + line)
    by_name = {row["Name"]: row for row in rows}
    worklist_p95 = _num(by_name.get(WORKLIST, {}), "95%")
    health_p95 = _num(by_name.get(HEALTH, {}), "95%")
    ratio = worklist_p95 / health_p95 if health_p95 else float("inf")
    passed = (
        errors == 0
        and integrity["duplicate_open_visits"] == 0
        and ratio < RATIO_TARGET
        and requests > 0
    )
    print(
        f"\nload: {requests} requests in {SECONDS} s ({_num(total, 'Requests/s'):.1f} req/s), "
        f"{errors} errors ({100 * errors / max(requests, 1):.2f} %), worklist p95 "
        f"{worklist_p95:.0f} ms, health p95 {health_p95:.0f} ms, ratio {ratio:.1f} "
        f"(target < {RATIO_TARGET:.0f}); {os.cpu_count()} CPUs, load average {load:.1f} "
        f"(generator, servers and anything else on the machine): {'PASS' if passed else 'FAIL'}"
    )
    return passed


def main() -> int:
    with Stack("load", pg_port=5441, redis_port=6391, web_port=8091, dbname="cb_load") as stack:
        # Calling hours are a product rule; the load runs at any hour of the day.
        stack.extra_env.update(CALLING_HOURS_START="00:00", CALLING_HOURS_END="23:59")
        stack.start_postgres()
        stack.start_redis()
        stack.migrate()
        data = seed(stack)
        key = stack.service_key()
        stack.start_web(workers=WEB_WORKERS, threads=WEB_THREADS)
        stack.start_worker(concurrency=2)
        prefix = run_locust(stack, data, key)
        load = os.getloadavg()[0]
        rows, total, failures = read_stats(prefix)
        _, text, _ = http("GET", f"{stack.base_url}/metrics", timeout=60)
        integrity = stack.django_json(INTEGRITY)
        wanted = (
            "callback_visits{",
            "callback_celery_queue_length{",
            "callback_celery_task_failures",
        )
        metrics_lines = [
            line
            for line in str(text).splitlines()
            if line.startswith(wanted)
            or (
                line.startswith("django_http_requests_latency_seconds_by_view_method_count")
                and "api" in line
            )
        ][:14]
        passed = report(rows, total, failures, integrity, metrics_lines, load)
        return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
