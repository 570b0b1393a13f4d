"""Fault tests (``make faults``), on a private PostgreSQL (port 5440), Redis (6390), gunicorn
(8090) and Celery workers, all on 127.0.0.1 (bench/_harness.py): restarting them never touches
the machine's shared services.

1. worker killed (SIGKILL) in the middle of generate_due_visits, then restarted: afterwards no
   duplicate open visit and no gap (every due account has its visit; a further run finds
   nothing left to do);
2. Redis stopped while the API takes events: every event is answered clearly and recorded with
   its visits; the health check names the broker; work queued for the broker runs once Redis
   is back;
3. PostgreSQL restarted under load: requests fail cleanly (503, no 500), recover by themselves,
   nothing is half-written (each event with its visit), and client retries record each event
   exactly once;
4. a slow and failing SMS gateway (a stub on 127.0.0.1): retries with back-off, two senders at
   once, and no message sent twice.

Each scenario prints its figures and a verdict; the last line sums them up. FAULTS_ONLY=1,3
runs a subset.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ROOT, Stack, http, log, percentile, wait_for  # noqa: E402

CST = timezone(timedelta(hours=8))
GEN_ACCOUNTS = int(os.environ.get("FAULTS_GEN_ACCOUNTS", "200000"))
ONLY = {part.strip() for part in os.environ.get("FAULTS_ONLY", "").split(",") if part.strip()}


class Result:
    def __init__(self, number: int, title: str):
        self.number = number
        self.title = title
        self.status = "SKIPPED"
        self.figures: list[str] = []

    def add(self, line: str) -> None:
        self.figures.append(line)
        print(f"    {line}", flush=True)

    def verdict(self, passed: bool, why: str = "") -> None:
        self.status = "PASS" if passed else "FAIL"
        print(f"  => {self.number}. {self.title}: {self.status}{' (' + why + ')' if why else ''}")

    def skip(self, why: str) -> None:
        self.status = "SKIPPED"
        print(f"  => {self.number}. {self.title}: SKIPPED ({why})")


def has_module(stack: Stack, *names: str) -> bool:
    code = "import importlib.util, json; print(json.dumps([" + ",".join(
        f"importlib.util.find_spec({name!r}) is not None" for name in names
    ) + "]))"  # fmt: skip
    try:
        return all(stack.django_json(code))
    except Exception:  # noqa: BLE001
        return False


def large_cash(account: str) -> dict:
    return {
        "event_id": f"FLT-{uuid.uuid4().hex}",
        "type": "transaction",
        "account_number": account,
        "occurred_at": datetime.now(CST).isoformat(timespec="seconds"),
        "data": {
            "amount": "80000.00",
            "currency": "CNY",
            "direction": "out",
            "channel": "counter",
            "kind": "cash",
        },
    }


EVENTS_STATE = """
import json
from accounts.models import AccountEvent
from visits.models import Visit, VisitTrigger
from django.db.models import Count
ids = json.loads('''{ids}''')
events = dict(AccountEvent.objects.filter(event_id__in=ids).values_list("event_id").annotate(n=Count("id")))
with_visit = set(VisitTrigger.objects.filter(event__event_id__in=ids).values_list("event__event_id", flat=True))
dupes = (Visit.objects.open().values("account_id", "kind").annotate(n=Count("id")).filter(n__gt=1).count())
print(json.dumps({{"events": events, "with_visit": sorted(with_visit), "duplicate_open_visits": dupes}}))
"""


def events_state(stack: Stack, ids: list[str]) -> dict:
    return stack.django_json(EVENTS_STATE.format(ids=json.dumps(ids)))


# --- 1. Celery worker killed in the middle of generate_due_visits ------------------------------

GEN_STATE = """
import json
from django.db.models import Count
from accounts.models import Account
from visits.models import Visit
# The masked copy keeps the prefix: the numbers themselves are encrypted.
accounts = Account.objects.filter(number_masked__startswith="GN")
covered = Visit.objects.open().filter(kind="periodic", account__number_masked__startswith="GN")
dupes = (Visit.objects.open().values("account_id", "kind").annotate(n=Count("id")).filter(n__gt=1).count())
print(json.dumps({"accounts": accounts.count(),
                  "covered": covered.values("account_id").distinct().count(),
                  "open_periodic": covered.count(), "duplicates": dupes}))
"""


def scenario_worker_killed(stack: Stack, result: Result) -> None:
    if not has_module(stack, "visits.generation", "visits.tasks"):
        result.skip("visits.generation / visits.tasks not written yet")
        return
    # The only worker is the one to be killed, so it is the one that takes the task.
    log(f"1: seeding {GEN_ACCOUNTS} accounts due for their periodic visit")
    stack.django(
        "from _harness import seed_bulk_accounts; "
        f"seed_bulk_accounts(prefix='GN', accounts={GEN_ACCOUNTS}, "
        f"customers={max(1, GEN_ACCOUNTS // 4)}, opened_days_ago=900)",
        PYTHONPATH=str(ROOT / "bench"),
    )
    # A short visibility timeout, so the message the killed worker held comes back quickly.
    # Chunks of 20,000 accounts: the kill lands between two committed chunks.
    worker = stack.start_worker(
        name="gen1", concurrency=1, CELERY_VISIBILITY_TIMEOUT="15", GENERATION_CHUNK_SIZE="20000"
    )
    stack.django("from visits.tasks import generate_due_visits_task as t; t.delay()")
    started = time.monotonic()
    count_sql = "SELECT count(*) FROM visits_visit v JOIN accounts_account a ON a.id = v.account_id WHERE a.number_masked LIKE 'GN%'"

    def busy():
        # Some chunks committed, the rest not yet: the middle of the job.
        return int(stack.postgres.psql(stack.dbname, count_sql)) > 0

    try:
        wait_for(busy, timeout=120, what="generate_due_visits at work", interval=0.05)
    except TimeoutError:
        result.verdict(False, "the task never started")
        return
    worker.kill()
    stack.remove(worker)
    before_kill = int(stack.postgres.psql(stack.dbname, count_sql))
    result.add(
        f"worker SIGKILLed {time.monotonic() - started:.1f} s after queueing, "
        f"{before_kill} of {GEN_ACCOUNTS} visits written at that moment"
    )
    time.sleep(2)
    mid = stack.django_json(GEN_STATE)
    result.add(f"after the kill: {mid['covered']} accounts covered, {mid['duplicates']} duplicates")
    restarted = time.monotonic()
    stack.start_worker(
        name="gen2", concurrency=2, CELERY_VISIBILITY_TIMEOUT="15", GENERATION_CHUNK_SIZE="20000"
    )

    def complete():
        state = stack.django_json(GEN_STATE)
        return state if state["covered"] >= state["accounts"] else None

    how = "the unacknowledged message was delivered again to the restarted worker"
    try:
        final = wait_for(complete, timeout=150, what="redelivered generation", interval=2)
    except TimeoutError:
        how = "not redelivered in 150 s; queued again, as beat does on its next tick"
        stack.django("from visits.tasks import generate_due_visits_task as t; t.delay()")
        final = wait_for(complete, timeout=300, what="generation run again", interval=2)
    result.add(f"recovered {time.monotonic() - restarted:.1f} s after the restart: {how}")
    # Another run (a second beat, or the next tick) must find nothing left to create.
    again = stack.django_json(
        "import json; from visits.generation import generate_due_visits; "
        "r = generate_due_visits(); print(json.dumps(r if isinstance(r, (int, dict)) else str(r)))"
    )
    after = stack.django_json(GEN_STATE)
    gap = after["accounts"] - after["covered"]
    result.add(
        f"accounts due {final['accounts']}, covered {after['covered']}, gap {gap}, "
        f"open periodic visits {after['open_periodic']}, duplicates {after['duplicates']}; "
        f"a further run returned {again}, open periodic visits then {after['open_periodic']}"
    )
    result.verdict(
        gap == 0 and after["duplicates"] == 0 and after["open_periodic"] == after["accounts"]
    )


# --- 2. Redis stopped while the web app takes events --------------------------------------------


def scenario_redis_down(stack: Stack, result: Result, key: str, accounts: list[str]) -> None:
    auth = {"Authorization": f"Token {key}"}
    url = stack.base_url
    queued_before = stack.django_json(
        "import json; from visits.models import Visit; print(json.dumps(Visit.objects.count()))"
    )
    stack.stop_redis()
    log("2: Redis stopped")
    status, body, seconds = http("GET", f"{url}/api/v1/health")
    result.add(f"health with Redis down: {status} {body} in {seconds * 1000:.0f} ms")
    health_ok = status == 503 and isinstance(body, dict) and body.get("broker") == "down"
    health_ok = health_ok and seconds < 2.5
    ids, statuses, times = [], [], []
    for i in range(40):
        event = large_cash(accounts[i % len(accounts)])
        ids.append(event["event_id"])
        status, body, seconds = http("POST", f"{url}/api/v1/events", body=event, headers=auth)
        statuses.append(status)
        times.append(seconds)
    batch = [large_cash(accounts[(i + 40) % len(accounts)]) for i in range(60)]
    ids += [e["event_id"] for e in batch]
    status, body, seconds = http(
        "POST", f"{url}/api/v1/events/batch", body={"events": batch}, headers=auth, timeout=60
    )
    batch_statuses = (
        [r.get("status") for r in body.get("results", [])] if isinstance(body, dict) else []
    )
    result.add(
        f"40 single events: statuses {dict((s, statuses.count(s)) for s in set(statuses))}, "
        f"p50 {percentile(times, 50) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; "
        f"batch of 60: HTTP {status} in {seconds * 1000:.0f} ms, per event "
        f"{dict((s, batch_statuses.count(s)) for s in set(batch_statuses))}"
    )
    if status != 200:
        result.add(f"batch answer: {str(body)[:300]}")
    recorded_down = events_state(stack, ids)
    stack.start_redis()
    log("2: Redis started again")
    wait_for(lambda: http("GET", f"{url}/api/v1/health")[0] == 200, timeout=30, what="health again")
    # Work queued while Redis was away runs once it is back: the worker drains the queue.
    wait_for(lambda: queue_empty(stack), timeout=60, what="the queue drained")
    after = events_state(stack, ids)
    visits_after = stack.django_json(
        "import json; from visits.models import Visit; print(json.dumps(Visit.objects.count()))"
    )
    recorded = sum(1 for n in after["events"].values() if n == 1)
    result.add(
        f"events recorded during the outage {len(recorded_down['events'])}/{len(ids)}, after "
        f"{recorded}/{len(ids)}; with their visit {len(after['with_visit'])}/{len(ids)}; "
        f"visits {queued_before} -> {visits_after}; duplicates {after['duplicate_open_visits']}"
    )
    answered = all(s in (200, 201) for s in statuses) and status == 200
    answered = answered and all(s in (200, 201) for s in batch_statuses)
    result.verdict(
        health_ok
        and answered
        and recorded == len(ids)
        and len(after["with_visit"]) == len(ids)
        and after["duplicate_open_visits"] == 0
    )


def queue_empty(stack: Stack) -> bool:
    import socket

    with socket.create_connection(("127.0.0.1", stack.redis_port), timeout=2) as sock:
        sock.sendall(b"LLEN celery\r\n")
        return sock.recv(32).startswith(b":0")


# --- 3. PostgreSQL restarted under load ---------------------------------------------------------


def scenario_postgres_restart(stack: Stack, result: Result, key: str, accounts: list[str]) -> None:
    auth = {"Authorization": f"Token {key}"}
    url = stack.base_url
    stop = threading.Event()
    outcomes: list[tuple[float, str, int | str, dict]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            event = large_cash(accounts[(n * 1000 + i) % len(accounts)])
            try:
                status, _, _ = http(
                    "POST", f"{url}/api/v1/events", body=event, headers=auth, timeout=15
                )
            except Exception as exc:  # noqa: BLE001 - a refused connection is an outcome too
                status = exc.__class__.__name__
            with lock:
                outcomes.append((time.monotonic(), "event", status, event))
            if status not in (200, 201):
                time.sleep(0.2)

    def prober() -> None:
        while not stop.is_set():
            try:
                status, _, _ = http("GET", f"{url}/api/v1/health", timeout=5)
            except Exception as exc:  # noqa: BLE001
                status = exc.__class__.__name__
            with lock:
                outcomes.append((time.monotonic(), "health", status, {}))
            time.sleep(0.2)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    threads.append(threading.Thread(target=prober))
    for thread in threads:
        thread.start()
    time.sleep(4)
    log("3: restarting PostgreSQL under load (pg_ctl restart -m fast)")
    restart_started = time.monotonic()
    stack.postgres.restart()
    restart_done = time.monotonic()
    time.sleep(8)
    stop.set()
    for thread in threads:
        thread.join()
    events = [o for o in outcomes if o[1] == "event"]
    by_status: dict = {}
    for _, _, status, _ in events:
        by_status[status] = by_status.get(status, 0) + 1
    failed = [o for o in events if o[2] not in (200, 201)]
    first_ok_after = next(
        (t for t, kind, status, _ in events if t > restart_done and status in (200, 201)), None
    )
    result.add(
        f"{len(events)} event posts: {by_status}; restart took "
        f"{restart_done - restart_started:.1f} s; first success "
        f"{(first_ok_after - restart_done) if first_ok_after else float('nan'):.1f} s after it"
    )
    health = {}
    for _, kind, status, _ in outcomes:
        if kind == "health":
            health[status] = health.get(status, 0) + 1
    result.add(f"health probes: {health}")
    # Clients retry what failed, with the same event_id.
    retried = {}
    for _, _, _, event in failed:
        for _attempt in range(20):
            status, _, _ = http("POST", f"{url}/api/v1/events", body=event, headers=auth)
            if status in (200, 201):
                break
            time.sleep(0.5)
        retried[status] = retried.get(status, 0) + 1
    ids = [o[3]["event_id"] for o in events]
    state = events_state(stack, ids)
    once = sum(1 for n in state["events"].values() if n == 1)
    half_written = len(set(state["events"]) - set(state["with_visit"]))
    server_errors = sum(n for s, n in by_status.items() if s == 500)
    result.add(
        f"retries of the {len(failed)} failed posts: {retried}; events recorded exactly once "
        f"{once}/{len(ids)}; events without their visit (half-written) {half_written}; "
        f"duplicate open visits {state['duplicate_open_visits']}"
    )
    result.verdict(
        once == len(ids)
        and half_written == 0
        and state["duplicate_open_visits"] == 0
        and first_ok_after is not None
        and server_errors == 0,
        "" if server_errors == 0 else f"{server_errors} answers were 500",
    )


# --- 4. Slow and failing SMS gateway ------------------------------------------------------------


class GatewayStub:
    """An SMS gateway on 127.0.0.1: answers some posts late (past the client's timeout) or with
    503, and, like a real gateway, recognises a repeat of the same client_ref."""

    def __init__(
        self, *, down_for: int = 45, slow_every: int = 4, fail_every: int = 3, delay: float = 2.5
    ):
        self.posts: list[str] = []
        self.accepted: dict[str, str] = {}
        self.repeats_after_accept = 0
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                ref = body["client_ref"]
                with stub.lock:
                    stub.posts.append(ref)
                    n = len(stub.posts)
                    seen = ref in stub.accepted
                    if seen:
                        stub.repeats_after_accept += 1
                if not seen and (n <= down_for or n % fail_every == 0):
                    self.send_response(503)
                    self.end_headers()
                    return
                with stub.lock:
                    message_id = stub.accepted.setdefault(ref, f"GW-{len(stub.accepted) + 1}")
                if not seen and n % slow_every == 0:
                    time.sleep(delay)  # accepted, but the answer comes after the timeout
                payload = json.dumps({"message_id": message_id}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


SMS_SEED = """
import json
from django.utils import timezone
from accounts.models import Customer
from visits.models import SmsMessage
customers = list(Customer.objects.filter(external_id__startswith="FTC").order_by("pk")[:{n}])
now = timezone.now()
SmsMessage.objects.bulk_create([
    SmsMessage(customer=c, body="【示范银行】您的账户回访提醒，如有疑问请致电客服。",
               idempotency_key=f"fault-sms:{{c.pk}}", not_before=now)
    for c in customers
])
print(json.dumps(len(customers)))
"""

SMS_ROUND = """
import json
from datetime import timedelta
from django.utils import timezone
from workspace.channels.sms import sms_send_due
now = timezone.now() + timedelta(minutes={minutes})
print(json.dumps(sms_send_due(now=now)))
"""

SMS_STATE = """
import json
from django.db.models import Count
from visits.models import SmsMessage
from django.utils import timezone
rows = SmsMessage.objects.filter(idempotency_key__startswith="fault-sms:")
waits = sorted({round((m - timezone.now()).total_seconds() / 60)
                for m in rows.filter(status="queued").values_list("not_before", flat=True)})
print(json.dumps({"waits": waits, "status": dict(rows.order_by().values_list("status").annotate(n=Count("id"))),
                  "tries": dict(rows.order_by().values_list("tries").annotate(n=Count("id"))),
                  "sent": dict(rows.filter(status="sent").values_list("idempotency_key", "gateway_message_id")),
                  }))
"""


def scenario_sms_gateway(stack: Stack, result: Result) -> None:
    if not has_module(stack, "workspace.channels.sms"):
        result.skip("workspace/channels/sms.py not found")
        return
    stub = GatewayStub()
    try:
        env = {
            "SMS_BACKEND": "workspace.channels.sms.HttpGatewayBackend",
            "SMS_HTTP_URL": f"http://127.0.0.1:{stub.port}/send",
            "SMS_HTTP_TIMEOUT": "1",
            # Quiet hours are a product rule; this test runs at any hour.
            "SMS_QUIET_START": "03:00",
            "SMS_QUIET_END": "03:00",
        }
        count = stack.django_json(SMS_SEED.format(n=40), **env)
        result.add(
            f"{count} messages queued; gateway: down (503) for its first 45 posts, then every 3rd "
            "post 503 and every 4th answered after 2.5 s (client timeout 1 s)"
        )
        # Rounds of the sender: two at once each time (two workers), the clock moved forward
        # past the back-off of the previous round.
        minutes = 0
        rounds = []
        for _round in range(8):
            code = SMS_ROUND.format(minutes=minutes)
            with ThreadPoolExecutor(2) as pool:
                sent = list(pool.map(lambda _, code=code: stack.django_json(code, **env), range(2)))
            state = stack.django_json(SMS_STATE)
            rounds.append((minutes, sent, state["status"], state["waits"]))
            if state["status"].get("queued", 0) == 0:
                break
            minutes += 5 * 2 ** (len(rounds) + 1)
        for minutes, sent, status, waits in rounds:
            result.add(
                f"round at +{minutes} min: sent {sent[0]} + {sent[1]} by the two senders; "
                f"{status}; the queued ones wait until +{waits} min (back-off)"
            )
        state = stack.django_json(SMS_STATE)
        sent_keys = state["sent"]
        wrong_id = sum(1 for ref, gid in sent_keys.items() if stub.accepted.get(ref) != gid)
        posts_per_ref = {}
        for ref in stub.posts:
            posts_per_ref[ref] = posts_per_ref.get(ref, 0) + 1
        result.add(
            f"gateway: {len(stub.posts)} posts for {len(posts_per_ref)} messages, "
            f"{len(stub.accepted)} accepted, {stub.repeats_after_accept} repeats of an accepted "
            f"message (dropped by client_ref); tries per message {state['tries']}"
        )
        result.add(
            f"app: {len(sent_keys)} marked sent, {wrong_id} with a gateway id that is not the "
            f"gateway's; final status {state['status']}"
        )
        delivered_once = len(stub.accepted) == len(sent_keys) == count and wrong_id == 0
        result.verdict(delivered_once and state["status"].get("sending", 0) == 0)
    finally:
        stub.close()


# --- main ---------------------------------------------------------------------------------------


SETUP = """
import json
from _harness import seed_bulk_accounts
seed_bulk_accounts(prefix="FT", accounts=2000, customers=500, opened_days_ago=400)
from accounts.models import Account
print(json.dumps(list(Account.objects.filter(number_masked__startswith="FT").values_list("number", flat=True))))
"""


def main() -> int:
    results = [
        Result(1, "Celery worker killed during generate_due_visits"),
        Result(2, "Redis stopped while the API takes events"),
        Result(3, "PostgreSQL restarted under load"),
        Result(4, "slow and failing SMS gateway"),
    ]
    wanted = [r for r in results if not ONLY or str(r.number) in ONLY]
    with Stack("faults", pg_port=5440, redis_port=6390, web_port=8090, dbname="cb_faults") as stack:
        stack.start_postgres()
        stack.start_redis()
        stack.migrate()
        accounts = stack.django_json(SETUP, PYTHONPATH=str(ROOT / "bench"))
        key = stack.service_key()
        stack.start_web(workers=3)
        for result in wanted:
            if result.number > 1 and not any(
                p.name.startswith(("gen", "worker")) for p in stack.procs
            ):
                stack.start_worker(name="worker", concurrency=2)
            print(f"\n{result.number}. {result.title}", flush=True)
            try:
                if result.number == 1:
                    scenario_worker_killed(stack, result)
                elif result.number == 2:
                    scenario_redis_down(stack, result, key, accounts)
                elif result.number == 3:
                    scenario_postgres_restart(stack, result, key, accounts)
                else:
                    scenario_sms_gateway(stack, result)
            except Exception as exc:  # noqa: BLE001 - one scenario's crash is its failure
                result.add(f"crashed: {exc.__class__.__name__}: ...{str(exc)[-800:]}")
                result.verdict(False, "crashed")
    passed = sum(r.status == "PASS" for r in wanted)
    failed = sum(r.status == "FAIL" for r in wanted)
    skipped = sum(r.status == "SKIPPED" for r in wanted)
    summary = ", ".join(f"{r.number} {r.status}" for r in wanted)
    print(f"\nfaults: {passed} passed, {failed} failed, {skipped} skipped ({summary})")
    return 0 if failed == 0 and skipped == 0 else 1


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
