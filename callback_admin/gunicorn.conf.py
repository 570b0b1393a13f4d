"""gunicorn configuration for the web processes (``gunicorn -c callback_admin/gunicorn.conf.py``).

Every value comes from the environment (docs/DEPLOYMENT.md lists them). The access log is one
JSON object a line with the request id the application put in ``X-Request-ID``, so an access
line and the application's own log lines of the same request can be joined.
"""

import datetime as dt
import json
import multiprocessing
import os
import re
import shutil
import tempfile
from pathlib import Path

from gunicorn.glogging import Logger

wsgi_app = "callback_admin.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then, so a slow leak never grows for years.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))
# The load balancer terminates TLS and sets X-Forwarded-Proto; trust it from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
if Path("/dev/shm").is_dir():
    worker_tmp_dir = "/dev/shm"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "callback-web"

# Prometheus: every worker writes its counters to files in one folder, /metrics adds them up.
# The folder must exist, and be empty, before the workers import prometheus_client.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(
    Path(tempfile.gettempdir()) / f"callback-prometheus-{os.getpid()}"
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def on_starting(server):
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    Path(_metrics_dir).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


# Digit runs long enough to be an account, ID or phone number (in a path such as
# /api/v1/accounts/<number>): only the last four digits stay. The query string is never logged.
_LONG_NUMBER = re.compile(r"\d{5,}(\d{4})")


def _redacted_path(path: str) -> str:
    return _LONG_NUMBER.sub(lambda match: "*" * (len(match.group(0)) - 4) + match.group(1), path)


class JsonAccessLogger(Logger):
    """Access log lines as JSON (values escaped properly, unlike a format string)."""

    def access(self, resp, req, environ, request_time):
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog):
            return
        headers = dict(resp.headers or [])
        request_id = next(
            (value for name, value in headers.items() if name.lower() == "x-request-id"), "-"
        )
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        line = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "type": "access",
            "request_id": request_id,
            "remote_addr": environ.get("REMOTE_ADDR", "-"),
            "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR", ""),
            "method": environ.get("REQUEST_METHOD", ""),
            "path": _redacted_path(environ.get("PATH_INFO", "")),
            "status": int(status) if str(status).isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "user_agent": environ.get("HTTP_USER_AGENT", ""),
        }
        try:
            self.access_log.info(json.dumps(line, ensure_ascii=False))
        except Exception:  # noqa: BLE001 - an access line must never break a response
            self.exception("could not write the access log line")


logger_class = JsonAccessLogger
