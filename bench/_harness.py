"""Private services for benchmarks and fault tests, all on 127.0.0.1.

Nothing here touches the machine's shared PostgreSQL or Redis: a benchmark gets its own
PostgreSQL instance (``initdb`` into a temporary folder, run as the ``postgres`` user when
started as root), its own ``redis-server``, gunicorn with the production settings
(callback_admin/gunicorn.conf.py) and Celery workers, each on a port of its own, and stops them
all at the end (also on Ctrl-C). Every process is started in its own process group and
stopped by its id.

    with Stack("load", pg_port=5441, redis_port=6391, web_port=8091) as stack:
        stack.start_postgres(); stack.start_redis(); stack.migrate()
        stack.start_web(workers=4); stack.start_worker()
        ...

The Django side (seeding data, checking results) runs in ``manage.py shell`` subprocesses
with the stack's environment, through ``stack.django(code)``; the helpers at the end of this
file are meant to be called from there.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
HOST = "127.0.0.1"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - keep waiting; report the last one
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s (last error: {last_error})")


def http(method: str, url: str, *, body=None, headers=None, timeout: float = 10.0):
    """(status, parsed JSON or text, seconds). Never raises for an HTTP status."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    elapsed = time.perf_counter() - started
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text), elapsed
    except ValueError:
        return status, text, elapsed


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_bin() -> Path:
    override = os.environ.get("PG_BIN")
    if override:
        return Path(override)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found; set PG_BIN")


@dataclass
class Postgres:
    """A PostgreSQL instance of our own in a temporary folder."""

    port: int
    folder: Path
    bin: Path = field(default_factory=_pg_bin)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def logfile(self) -> Path:
        return self.folder / "postgres.log"

    def _as_owner(self, *cmd: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *cmd]
        return list(cmd)

    def _run(self, *cmd: str, check=True) -> subprocess.CompletedProcess:
        return subprocess.run(
            self._as_owner(*cmd), check=check, capture_output=True, text=True, cwd="/"
        )

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{dbname}"

    def init(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "stop",
                "-m",
                "immediate",
                check=False,
            )
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
        if not port_free(self.port):
            raise RuntimeError(f"port {self.port} is taken; PostgreSQL needs it free")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '{HOST}'\n"
                f"unix_socket_directories = '{self.folder}'\nmax_connections = 300\n"
                "shared_buffers = 256MB\nsynchronous_commit = on\nfsync = on\n"
            )

    def start(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile),
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                mode,
                "-w",
                "stop",
                check=False,
            )

    def restart(self, mode: str = "fast") -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile),
            "-m", mode, "-w", "-t", "60", "restart",
        )  # fmt: skip

    def psql(self, dbname: str, sql: str) -> str:
        result = subprocess.run(
            ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", self.url(dbname), "-c", sql],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return result.stdout.strip()

    def create_database(self, dbname: str) -> None:
        self.psql("postgres", f'DROP DATABASE IF EXISTS "{dbname}"')
        self.psql("postgres", f'CREATE DATABASE "{dbname}"')


# --- Processes ----------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    logfile: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        self.signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal_group(signal.SIGKILL)
            self.popen.wait(5)

    def kill(self) -> None:
        """SIGKILL to the whole group: the process and every child it forked (pool workers)."""
        self.signal_group(signal.SIGKILL)
        self.popen.wait(10)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Stack:
    """PostgreSQL + Redis + gunicorn + Celery for one benchmark run; stops them on exit."""

    def __init__(self, name: str, *, pg_port: int, redis_port: int, web_port: int, dbname: str):
        self.name = name
        self.pg_port = pg_port
        self.redis_port = redis_port
        self.web_port = web_port
        self.dbname = dbname
        self.folder = Path(tempfile.gettempdir()) / f"cb-bench-{name}"
        self.postgres: Postgres | None = None
        self.redis: Proc | None = None
        self.procs: list[Proc] = []
        self.extra_env: dict[str, str] = {}
        from cryptography.fernet import Fernet

        self.secrets = {
            "SECRET_KEY": secrets.token_urlsafe(48),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "BLIND_INDEX_KEY": secrets.token_urlsafe(40),
            "AUDIT_CHAIN_KEYS": secrets.token_urlsafe(40),
        }

    # context manager
    def __enter__(self) -> Stack:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "logs").mkdir(exist_ok=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.web_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{HOST}:{self.redis_port}/0"

    @property
    def database_url(self) -> str:
        assert self.postgres is not None
        return self.postgres.url(self.dbname)

    def env(self, **overrides: str) -> dict[str, str]:
        """The production settings, with HTTPS-only features off (no TLS on 127.0.0.1)."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "PROMETHEUS_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="callback_admin.settings",
            DJANGO_ENV="production",
            ALLOWED_HOSTS=f"{HOST},localhost",
            SECURE_SSL_REDIRECT="false",
            SECURE_COOKIES="false",
            SECURE_HSTS_SECONDS="0",
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            VAR_DIR=str(self.folder / "var"),
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            **self.secrets,
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> Proc:
        logfile = self.folder / "logs" / f"{name}.log"
        handle = open(logfile, "ab")  # noqa: SIM115 - the child keeps it
        popen = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        handle.close()
        return Proc(name, popen, logfile)

    # services
    def start_postgres(self) -> Postgres:
        self.postgres = Postgres(self.pg_port, self.folder / "pg")
        log(f"PostgreSQL: initdb and start on {HOST}:{self.pg_port}")
        self.postgres.init()
        self.postgres.start()
        self.postgres.create_database(self.dbname)
        return self.postgres

    def start_redis(self) -> Proc:
        """redis-server with an append-only file, as in production: queued messages survive a
        restart."""
        data = self.folder / "redis"
        if self.redis is None:
            shutil.rmtree(data, ignore_errors=True)
            data.mkdir(parents=True)
            if not port_free(self.redis_port):
                raise RuntimeError(f"port {self.redis_port} is taken; Redis needs it free")
        cmd = [
            shutil.which("redis-server") or "redis-server",
            "--bind", HOST, "--port", str(self.redis_port), "--dir", str(data),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        self.redis = self._spawn("redis", cmd, os.environ.copy())
        wait_for(lambda: self.redis_ping(), timeout=20, what="Redis")
        return self.redis

    def stop_redis(self) -> None:
        assert self.redis is not None
        self.redis.stop()

    def redis_ping(self) -> bool:
        with socket.create_connection((HOST, self.redis_port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def manage(self, *args: str, check=True, **env) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env(**env),
            capture_output=True, text=True,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result

    def django(self, code: str, **env) -> str:
        """Runs Python in ``manage.py shell``; returns what it printed."""
        return self.manage("shell", "-c", code, **env).stdout

    def django_json(self, code: str, **env):
        """Runs Python that prints one JSON document on its last line; returns it parsed."""
        return json.loads(self.django(code, **env).strip().splitlines()[-1])

    def migrate(self) -> None:
        log("migrate")
        self.manage("migrate", "--noinput")
        manifest = ROOT / "staticfiles" / "staticfiles.json"
        newest = max(
            (p.stat().st_mtime for p in (ROOT / "static").rglob("*") if p.is_file()), default=0
        )
        if not manifest.exists() or manifest.stat().st_mtime < newest:
            log("collectstatic (hashed, compressed files for whitenoise)")
            self.manage("collectstatic", "--noinput")

    def start_web(self, *, workers: int = 4, threads: int = 1) -> Proc:
        if not port_free(self.web_port):
            raise RuntimeError(f"port {self.web_port} is taken; gunicorn needs it free")
        env = self.env(
            GUNICORN_BIND=f"{HOST}:{self.web_port}",
            WEB_CONCURRENCY=str(workers),
            GUNICORN_THREADS=str(threads),
            PROMETHEUS_MULTIPROC_DIR=str(self.folder / "prometheus"),
        )
        cmd = [str(VENV_BIN / "gunicorn"), "-c", "callback_admin/gunicorn.conf.py"]
        proc = self._spawn("gunicorn", cmd, env)
        self.procs.append(proc)

        def up():
            if not proc.alive():
                raise RuntimeError(f"gunicorn exited:\n{proc.tail()}")
            status, _, _ = http("GET", f"{self.base_url}/login/", timeout=2)
            return status == 200

        wait_for(up, timeout=60, what="gunicorn")
        log(f"gunicorn: {workers} workers on {self.base_url}")
        return proc

    def start_worker(self, *, name: str = "worker", concurrency: int = 2, **env) -> Proc:
        cmd = [
            str(VENV_BIN / "celery"), "-A", "callback_admin", "worker", "-l", "info",
            "-n", f"{name}@%h", "--concurrency", str(concurrency), "--without-gossip",
            "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        proc = self._spawn(name, cmd, self.env(**env))
        self.procs.append(proc)
        wait_for(
            lambda: "ready." in proc.logfile.read_text(errors="replace") or not proc.alive(),
            timeout=60,
            what=f"celery {name}",
        )
        if not proc.alive():
            raise RuntimeError(f"celery {name} exited:\n{proc.tail()}")
        return proc

    def remove(self, proc: Proc) -> None:
        if proc in self.procs:
            self.procs.remove(proc)

    def service_key(self, name: str = "core-banking") -> str:
        result = self.manage("create_service_client", name, "--scopes", "ingest,read")
        return result.stdout.strip().splitlines()[-1].strip()


# --- Django-side helpers (run inside ``manage.py shell`` through Stack.django) ------------------


def seed_bulk_accounts(*, prefix: str, accounts: int, customers: int, opened_days_ago: int,
                       branch_codes: tuple[str, ...] = ("BJ001", "SH001", "GZ001")) -> dict:  # fmt: skip
    """Customers and personal savings accounts in bulk (encrypted fields and blind indexes are
    filled by the model fields). Returns the counts."""
    import datetime as dt

    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Account, Branch, Customer

    branches = {}
    for code in branch_codes:
        branches[code], _ = Branch.objects.get_or_create(
            code=code, defaults={"name": f"{code} 网点"}
        )
    branch_list = list(branches.values())
    today = timezone.localdate()
    with transaction.atomic():
        Customer.objects.bulk_create(
            [
                Customer(
                    external_id=f"{prefix}C{i:07d}",
                    customer_type="personal",
                    name=f"测试客户{i}",
                    id_type="resident_id",
                    id_number=f"11010119900307{i % 10000:04d}",
                    mobile=f"139{i:08d}",
                    branch=branch_list[i % len(branch_list)],
                )
                for i in range(customers)
            ],
            batch_size=2000,
        )
        by_external = dict(
            Customer.objects.filter(external_id__startswith=f"{prefix}C").values_list(
                "external_id", "id"
            )
        )
        rows = []
        for i in range(accounts):
            customer_id = by_external[f"{prefix}C{i % customers:07d}"]
            rows.append(
                Account(
                    number=f"{prefix}{i:012d}",
                    customer_id=customer_id,
                    account_type="personal_savings",
                    status="active",
                    opened_on=today - dt.timedelta(days=opened_days_ago + i % 30),
                    branch=branch_list[(i % customers) % len(branch_list)],
                )
            )
            if len(rows) == 5000:
                Account.objects.bulk_create(rows)
                rows = []
        Account.objects.bulk_create(rows)
    return {"customers_created": customers, "accounts_created": accounts}


def main() -> None:
    """``python bench/_harness.py check``: can this machine start the services?"""
    print("PostgreSQL binaries:", _pg_bin())
    print("redis-server:", shutil.which("redis-server"))
    print("gunicorn:", (VENV_BIN / "gunicorn").exists(), "celery:", (VENV_BIN / "celery").exists())


if __name__ == "__main__":
    main()


def ensure_database(database_url: str) -> None:
    """Create the benchmark's own database on the machine's PostgreSQL when it is missing."""
    import psycopg2

    name = database_url.rsplit("/", 1)[1]
    admin = psycopg2.connect(database_url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def setup_django_on(database_url: str) -> None:
    """Point Django at ``database_url`` (test settings: eager tasks, fast hashing), migrate."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callback_admin.settings_test")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)


def vacuum_once(log, table: str = "visits_visit") -> None:
    """VACUUM a freshly loaded table once, as autovacuum does on a live database after a bulk
    load (the shared bench server runs with autovacuum off): without it no page is marked
    all-visible and no index-only scan is possible, which no production table looks like.
    Called from a process where Django is set up."""
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT relallvisible FROM pg_class WHERE relname = %s", [table])
        if c.fetchone()[0] == 0:
            log(f"vacuuming the seeded {table} (the visibility map a live table has)")
            c.execute(f"VACUUM (ANALYZE) {table}")


def bench_database_url(suffix: str) -> str:
    """The database of one benchmark: ``<name of DATABASE_URL>_<suffix>`` on the same server
    (``BENCH_DATABASE_URL`` overrides the base), so that several engineers sharing a server each
    keep their own benchmark databases; ``cb_bench_<suffix>`` on 127.0.0.1:5432 when
    DATABASE_URL is not PostgreSQL."""
    from urllib.parse import urlsplit, urlunsplit

    base = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        base = "postgres://postgres@127.0.0.1:5432/cb_bench"
    parts = urlsplit(base)
    name = parts.path.lstrip("/") or "cb_bench"
    if name in ("callback_ci", "test_callback_ci", "postgres"):
        name = "cb_bench"
    return urlunsplit(parts._replace(path=f"/{name}_{suffix}"))


def quick_flag(argv: list[str] | None = None) -> bool:
    """``--quick``: a small size for a check that the benchmark runs (figures not meaningful)."""
    return "--quick" in (sys.argv[1:] if argv is None else argv)


def result_line(name: str, **figures: float) -> str:
    """The closing line of a benchmark: ``RESULT <name> key=value ...`` (values are numbers)."""
    return (
        "RESULT "
        + name
        + " "
        + " ".join(
            f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
        )
    )


def interleaved_medians(reference, measured, rounds: int, *, per_round: int = 1) -> tuple:
    """(median seconds of ``reference()``, median seconds of ``measured()``), the two called in
    turn, ``per_round`` calls of the reference then one of the measured, ``rounds`` times: a
    ratio of the two then compares calls made at the same moments (a reference call right
    after a page pays for the caches the page used: ``per_round`` > 1 keeps it mostly warm, as
    when it is measured on its own). On the shared 2-core machine the health endpoint's median
    moved between 7.4 and 11.6 ms from one run to the next; measured a minute apart from the
    page, it moved the page's ratio from 4.0 to 7.0."""
    reference_times, measured_times = [], []
    for _ in range(rounds):
        for _ in range(per_round):
            started = time.perf_counter()
            reference()
            reference_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        measured()
        measured_times.append(time.perf_counter() - started)
    return statistics.median(reference_times), statistics.median(measured_times)
