"""Locust users for bench/load.py (run by it; not on its own against anything but 127.0.0.1).

- ``Agent``: logs in through the login form with its own credentials, then works visits
  through the pages: the worklist, "next visit" (claim), the call screen, a contact attempt
  (no answer / busy), or "reached" and the structured record.
- ``CoreBanking``: posts event batches (mostly small transactions, some large cash ones that
  open special-event visits, some contact-information changes) with a service key.
- ``Monitor``: the health endpoint, the baseline the pages are compared with.

Environment: LOAD_AGENTS (JSON list of [username, password]), LOAD_API_KEY, LOAD_ACCOUNTS
(JSON list of account numbers), LOAD_MAX_REQUESTS (the run stops after that many requests),
LOAD_BATCH_SIZE, LOAD_AGENT_USERS (how many Agent users, for the measurement window),
LOAD_SECONDS (length of the measurement window).
"""

import itertools
import json
import os
import random
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import gevent
from locust import HttpUser, between, events, task

AGENTS = json.loads(os.environ.get("LOAD_AGENTS", "[]"))
ACCOUNTS = json.loads(os.environ.get("LOAD_ACCOUNTS", "[]"))
API_KEY = os.environ.get("LOAD_API_KEY", "")
MAX_REQUESTS = int(os.environ.get("LOAD_MAX_REQUESTS", "100000"))
BATCH_SIZE = int(os.environ.get("LOAD_BATCH_SIZE", "100"))
AGENT_USERS = int(os.environ.get("LOAD_AGENT_USERS", "50"))
MEASURE_SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))
CST = timezone(timedelta(hours=8))

_agent_numbers = itertools.count()
_request_count = itertools.count(1)
_arrived = itertools.count(1)
_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_TXN_FIELD = re.compile(r'name="r-(txn_\d+)"')


@events.init.add_listener
def _only_localhost(environment, **kwargs):
    host = urlparse(environment.host or "").hostname
    if host not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"the load test runs against 127.0.0.1 only, not {host!r}")


_environment = []


@events.init.add_listener
def _keep_environment(environment, **kwargs):
    _environment.append(environment)


def _quit() -> None:
    runner = _environment[0].runner if _environment else None
    if runner is not None:
        runner.quit()


@events.request.add_listener
def _stop_after_max(**kwargs):
    if next(_request_count) == MAX_REQUESTS:
        _quit()


def _agent_arrived() -> None:
    """Once every agent has logged in, the statistics start afresh and the run lasts
    MEASURE_SECONDS more: the figures are those of steady work, not of the logins."""
    if next(_arrived) != AGENT_USERS:
        return
    environment = _environment[0]
    environment.runner.stats.reset_all()
    print(f"measurement window: {MEASURE_SECONDS} s from {time.strftime('%H:%M:%S')}", flush=True)
    gevent.spawn_later(MEASURE_SECONDS, _quit)


def _csrf(html: str) -> str:
    match = _CSRF_INPUT.search(html)
    return match.group(1) if match else ""


class Agent(HttpUser):
    weight = 50
    wait_time = between(0.5, 2.0)

    def on_start(self):
        username, password = AGENTS[next(_agent_numbers) % len(AGENTS)]
        page = self.client.get("/login/", name="login form")
        with self.client.post(
            "/login/",
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": _csrf(page.text),
            },
            headers={"Referer": f"{self.host}/login/"},
            name="login",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login of {username} answered {response.status_code}")
        _agent_arrived()

    @task(3)
    def worklist(self):
        self.client.get("/visits/", name="worklist /visits/")

    @task(1)
    def worklist_filtered(self):
        self.client.get("/visits/?status=assigned&page=2", name="worklist filtered")

    @task(4)
    def work_next_visit(self):
        page = self.client.get("/visits/", name="worklist /visits/")
        with self.client.post(
            "/visits/next/",
            data={"csrfmiddlewaretoken": _csrf(page.text)},
            name="claim next /visits/next/",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            location = response.headers.get("Location", "")
            if response.status_code != 302:
                response.failure(f"claim answered {response.status_code}")
                return
            match = re.search(r"/visits/(\d+)/$", location)
            if not match:
                response.success()  # nothing left to claim: back to the worklist
                return
        visit_path = f"/visits/{match.group(1)}/"
        screen = self.client.get(visit_path, name="call screen /visits/[id]/")
        token = _csrf(screen.text)
        if random.random() < 0.5:
            self.client.post(
                f"{visit_path}attempts/",
                data={
                    "csrfmiddlewaretoken": token,
                    "a-outcome": random.choice(["no_answer", "busy"]),
                    "a-note": "",
                },
                headers={"HX-Request": "true"},
                name="attempt /visits/[id]/attempts/",
            )
            return
        self.client.post(
            f"{visit_path}attempts/",
            data={"csrfmiddlewaretoken": token, "a-outcome": "reached", "a-note": ""},
            name="attempt reached",
            allow_redirects=False,
        )
        screen = self.client.get(visit_path, name="call screen /visits/[id]/")
        record = {
            "csrfmiddlewaretoken": _csrf(screen.text) or token,
            "r-mobile_status": "confirmed",
            "r-email_status": "not_asked",
            "r-landline_status": "not_asked",
            "r-address_status": "confirmed",
            "r-transactions_reviewed": "on",
            "r-online_banking": "unknown",
            "r-mobile_banking": "unknown",
            "r-sms_alerts": "unknown",
            "r-reminder_anti_fraud": "on",
            "r-reminder_safe_operation": "on",
            "r-feedback": "客户表示账户使用正常。",
            "r-satisfaction": str(random.randint(3, 5)),
            "r-handling": "no_problem",
            "r-resolution_satisfied": "yes",
        }
        for name in _TXN_FIELD.findall(screen.text):
            record[f"r-{name}"] = "confirm"
        with self.client.post(
            f"{visit_path}record/",
            data=record,
            name="record /visits/[id]/record/",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                errors = re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.text, re.S)
                response.failure(f"record answered {response.status_code}: {errors[:2]}")


class CoreBanking(HttpUser):
    fixed_count = 2
    wait_time = between(1.0, 3.0)

    def _event(self) -> dict:
        account = random.choice(ACCOUNTS)
        occurred = datetime.now(CST).isoformat(timespec="seconds")
        roll = random.random()
        event = {
            "event_id": f"LOAD-{uuid.uuid4().hex}",
            "account_number": account,
            "occurred_at": occurred,
        }
        if roll < 0.9:
            amount = "80000.00" if roll < 0.08 else f"{random.randint(10, 900)}.00"
            event.update(
                type="transaction",
                data={
                    "amount": amount,
                    "currency": "CNY",
                    "direction": random.choice(["in", "out"]),
                    "channel": random.choice(["counter", "atm", "mobile"]),
                    "kind": "cash" if roll < 0.5 else "transfer",
                },
            )
        else:
            event.update(type="info_changed", data={"fields": ["mobile"]})
        return event

    @task
    def post_batch(self):
        body = {"events": [self._event() for _ in range(BATCH_SIZE)]}
        with self.client.post(
            "/api/v1/events/batch",
            json=body,
            headers={"Authorization": f"Token {API_KEY}"},
            name="POST /api/v1/events/batch",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"batch answered {response.status_code}")
                return
            results = response.json().get("results", response.json())
            bad = [r for r in results if isinstance(r, dict) and r.get("status") not in (200, 201)]
            if bad:
                response.failure(f"{len(bad)} events refused, e.g. {bad[0]}")


class Monitor(HttpUser):
    fixed_count = 1
    wait_time = between(0.2, 0.3)

    @task
    def health(self):
        self.client.get("/api/v1/health", name="GET /api/v1/health")
