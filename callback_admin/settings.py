"""Settings, all read from the environment.

With no variable set the *embedded default* serves: SQLite under ``var/`` and a Celery
broker on the filesystem, so the whole product runs with Python alone. Production sets
``DJANGO_ENV=production`` and at least ``SECRET_KEY``, ``ALLOWED_HOSTS``, ``DATABASE_URL``,
``REDIS_URL`` and ``FIELD_ENCRYPTION_KEYS`` (see README, "Configuration").
"""

import os
from datetime import time
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_time(name: str, default: str) -> time:
    raw = os.environ.get(name) or default
    try:
        return time.fromisoformat(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a time like 09:00, not {raw!r}") from exc


DJANGO_ENV = env_str("DJANGO_ENV", "development")
PRODUCTION = DJANGO_ENV == "production"
_DEV_SECRET = "dev-insecure-secret-key-change-me-in-production-0123456789abcdef"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET)
DEBUG = env_bool("DEBUG", not PRODUCTION)
if PRODUCTION and (DEBUG or SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "Production refuses to start with DEBUG on or without its own SECRET_KEY (50+ chars)."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_celery_beat",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "pgtrigger",
    "core",
    "accounts",
    "visits",
    "escalations",
    "workspace",
    "supervision",
    "callback_admin",
    "django_prometheus",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.logging.RequestIdMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.MalformedCookieMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.request_scope.RequestScopeMiddleware",
    "accounts.middleware.SecurityPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.middleware.MethodNotAllowedMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "core.db_router.ReplicaReadsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "callback_admin.urls"
WSGI_APPLICATION = "callback_admin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "accounts.context_processors.staff",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
if env_str("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(env_str("DATABASE_REPLICA_URL"))
    # Tests see the replica as the primary itself (a physical replica has no tables of its own).
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
# Dashboards and exports read from "replica" when there is one; writes always go to default.
DATABASE_ROUTERS = ["core.db_router.ReplicaRouter"]
REPLICA_READ_VIEWS = env_list("REPLICA_READ_VIEWS", ["supervision:dashboard", "supervision:export"])
for _db in DATABASES.values():
    if _db["ENGINE"] == "django.db.backends.postgresql":
        # A database that does not answer fails a request (and the health check) in seconds.
        _db.setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", env_int("DB_CONNECT_TIMEOUT", 2)
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            # Misses instead of errors while Redis is unreachable (callback_admin/cache.py).
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 10)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.passwords.ComplexityValidator"},
    {"NAME": "accounts.passwords.CommonPatternValidator"},
    {"NAME": "accounts.passwords.PasswordHistoryValidator", "OPTIONS": {"keep": 5}},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend, reading the staff profile with the user (one query per request fewer).
    "accounts.backends.StaffModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Session expiry after inactivity: the cookie is refreshed on every request.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 15 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]  # each in its own language
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "core.storage.StaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Security headers; HTTPS ones on in production.
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
# Content-Security-Policy (django-csp): scripts, styles and everything else from this origin only,
# no inline script or style anywhere. The Swagger UI (inline bootstrap script) is left out.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/api/v1/docs"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated); with none,
# the client is the direct peer (core/network.py).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])


def _network_ok(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


if _bad_proxies := [proxy for proxy in TRUSTED_PROXIES if not _network_ok(proxy)]:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_bad_proxies[0]!r} is not an address or network")

# Celery: Redis when REDIS_URL is set, otherwise a broker on the filesystem.
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # A message taken by a worker that died is delivered again after this many seconds.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
        # An unreachable Redis fails a publish or the health check in seconds, not minutes.
        "socket_connect_timeout": 2,
    }
else:
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "data_folder_processed": str(_broker_dir / "processed"),
        # The exchange tables too: by default kombu writes them to ./control.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.auth.ServiceKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "service_client": env_str("API_THROTTLE_RATE", "6000/min"),
        "staff": "600/min",
    },
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "回访管理系统 API / Callback back office API",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AccountStatusEnum": "accounts.models.AccountStatus",
        "VisitStatusEnum": "visits.models.VisitStatus",
        "HealthStateEnum": [("ok", "ok"), ("down", "down")],
        "EventResultStatusEnum": [(201, 201), (200, 200), (400, 400), (409, 409)],
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("API_MAX_BODY_BYTES", 5 * 1024 * 1024)

# django-axes: lockout after repeated failures.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("LOGIN_LOCKOUT_MINUTES", 15) / 60
# Username and address together: anonymous failures from one address cannot lock an account
# out everywhere; repeated lockouts of one account alert the security administrators.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.network.client_ip"
AXES_ENABLED = env_bool("AXES_ENABLED", True)

GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "callback@bank.example")

# Personal data at rest: Fernet keys, newest first (rotation: prepend a new key,
# run `manage.py rotate_field_keys`, then drop the old one). Blind index key for lookups.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])
BLIND_INDEX_KEY = env_str("BLIND_INDEX_KEY", "")
if PRODUCTION and (not FIELD_ENCRYPTION_KEYS or not BLIND_INDEX_KEY):
    raise ImproperlyConfigured("Production needs FIELD_ENCRYPTION_KEYS and BLIND_INDEX_KEY.")
# The audit chain's HMAC keys, newest first (rotation: prepend a new key, keep the old ones for
# verification); without any, a key derived from SECRET_KEY (core/audit.py). The anchors (head
# hash and count of the log) are appended to this file, which the database cannot rewrite.
AUDIT_CHAIN_KEYS = env_list("AUDIT_CHAIN_KEYS", [])
if PRODUCTION and (not AUDIT_CHAIN_KEYS or any(len(key) < 32 for key in AUDIT_CHAIN_KEYS)):
    raise ImproperlyConfigured(
        "Production needs AUDIT_CHAIN_KEYS: keys of 32 characters or more, newest first."
    )
AUDIT_ANCHOR_FILE = env_str("AUDIT_ANCHOR_FILE", str(VAR_DIR / "audit-anchors.log"))


def _fernet_key_ok(key: str) -> bool:
    import base64
    import binascii

    try:
        return len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False


if _bad_keys := [i + 1 for i, key in enumerate(FIELD_ENCRYPTION_KEYS) if not _fernet_key_ok(key)]:
    raise ImproperlyConfigured(
        f"FIELD_ENCRYPTION_KEYS: key number {_bad_keys[0]} is not a Fernet key "
        "(32 url-safe base64-encoded bytes, e.g. from Fernet.generate_key())."
    )
if PRODUCTION:
    if not os.environ.get("ALLOWED_HOSTS") or "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "Production needs ALLOWED_HOSTS: the host names the site answers to, without '*'."
        )
    if len(BLIND_INDEX_KEY) < 32:
        raise ImproperlyConfigured("Production needs a BLIND_INDEX_KEY of 32 characters or more.")

# Production serving: /metrics (Prometheus) and the health check answer on plain HTTP too, so a
# scraper or a load balancer may call a web machine directly (see docs/DEPLOYMENT.md).
SECURE_REDIRECT_EXEMPT = env_list("SECURE_REDIRECT_EXEMPT", [r"^metrics$", r"^api/v1/health$"])
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])
METRICS_CACHE_SECONDS = env_int("METRICS_CACHE_SECONDS", 30)
# Celery workers import this module at start, which connects the task-failure counter.
CELERY_IMPORTS = ["callback_admin.metrics"]


def _gc_thresholds(name: str, default: str) -> tuple[int, int, int]:
    raw = os.environ.get(name) or default
    parts = raw.split(",")
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or values[0] < 1 or min(values) < 0:
        raise ImproperlyConfigured(
            f"{name} must be three whole numbers like 50000,20,20 (the first above 0), not {raw!r}"
        )
    return values  # type: ignore[return-value]


# The garbage collector's thresholds in web and Celery worker processes (core/runtime.py):
# a young-generation pass every 50,000 allocations instead of Python's 700. A batch of 1,000
# events allocates a few hundred thousand objects, nearly all freed by reference counting; at
# 700 the collector ran hundreds of times a batch, an eighth of its time.
GC_THRESHOLDS = _gc_thresholds("GC_THRESHOLDS", "50000,20,20")

# Product settings (SPEC: "[X]" values of the rulebook). See README for each.
CALLBACK = {
    "BANK_NAME": env_str("BANK_NAME", "示范银行"),
    # The department that receives suspected frauds (created by accounts' migration 0003).
    "SECURITY_DEPARTMENT_CODE": env_str("SECURITY_DEPARTMENT_CODE", "security"),
    "WORKDAY_START": env_time("WORKDAY_START", "09:00"),
    "WORKDAY_END": env_time("WORKDAY_END", "17:00"),
    "CALLING_HOURS_START": env_time("CALLING_HOURS_START", "09:00"),
    "CALLING_HOURS_END": env_time("CALLING_HOURS_END", "20:00"),
    "SMS_QUIET_START": env_time("SMS_QUIET_START", "21:00"),
    "SMS_QUIET_END": env_time("SMS_QUIET_END", "08:00"),
    "SMS_DAILY_CAP": env_int("SMS_DAILY_CAP", 1),
    "SMS_WEEKLY_CAP": env_int("SMS_WEEKLY_CAP", 3),
    "SMS_BACKEND": env_str("SMS_BACKEND", "workspace.channels.sms.OutboxBackend"),
    "SMS_HTTP_URL": env_str("SMS_HTTP_URL", ""),
    "SMS_HTTP_TIMEOUT": env_int("SMS_HTTP_TIMEOUT", 5),
    "SMS_HTTP_RETRIES": env_int("SMS_HTTP_RETRIES", 2),
    # Shared secret the SMS gateway sends in the X-Callback-Token header; empty refuses all.
    "SMS_CALLBACK_TOKEN": env_str("SMS_CALLBACK_TOKEN", ""),
    # Scheme and host put before questionnaire links (e.g. https://callback.bank.example).
    "PUBLIC_BASE_URL": env_str("PUBLIC_BASE_URL", ""),
    "NEW_ACCOUNT_BUSINESS_DAYS": env_int("NEW_ACCOUNT_BUSINESS_DAYS", 5),
    "GENERATION_HORIZON_DAYS": env_int("GENERATION_HORIZON_DAYS", 30),
    # Visit generation: accounts opened this many days back still get their new-account visit
    # (a generator that was down catches up); accounts are processed in id chunks of this size;
    # an SMS step of the fallback ladder waits this many days for a reply.
    "NEW_ACCOUNT_LOOKBACK_DAYS": env_int("NEW_ACCOUNT_LOOKBACK_DAYS", 30),
    "GENERATION_CHUNK_SIZE": env_int("GENERATION_CHUNK_SIZE", 50000),
    "SMS_REPLY_DAYS": env_int("SMS_REPLY_DAYS", 2),
    "PHONE_ATTEMPTS": env_int("PHONE_ATTEMPTS", 3),
    "QUESTIONNAIRE_LINK_DAYS": env_int("QUESTIONNAIRE_LINK_DAYS", 7),
    "AUDIT_SAMPLE_RATE": Decimal(env_str("AUDIT_SAMPLE_RATE", "0.05")),
    "ASSESSMENT_MIN_RATED_VISITS": env_int("ASSESSMENT_MIN_RATED_VISITS", 20),
    "ASSESSMENT_WEIGHTS": {
        "reach_rate": 0.2,
        "on_time_rate": 0.2,
        "satisfaction": 0.3,
        "audit_score": 0.3,
        "upheld_complaint_penalty": 0.05,
    },
    # Supervision: top N ranked agents rewarded; z of the satisfaction lower bound (1.65: a
    # one-sided 95 % bound); corrective-action due days; public complaint form limits per IP
    # and overall, per hour.
    "ASSESSMENT_REWARD_TOP": env_int("ASSESSMENT_REWARD_TOP", 3),
    "ASSESSMENT_SATISFACTION_Z": Decimal(env_str("ASSESSMENT_SATISFACTION_Z", "1.65")),
    "CORRECTIVE_ACTION_DAYS": env_int("CORRECTIVE_ACTION_DAYS", 14),
    "COMPLAINT_FORM_PER_IP_HOUR": env_int("COMPLAINT_FORM_PER_IP_HOUR", 5),
    "COMPLAINT_FORM_GLOBAL_HOUR": env_int("COMPLAINT_FORM_GLOBAL_HOUR", 500),
    "RETENTION_RECORD_YEARS": env_int("RETENTION_RECORD_YEARS", 10),
    "RETENTION_AUDIT_LOG_MONTHS": env_int("RETENTION_AUDIT_LOG_MONTHS", 6),
    # Record-form drafts: deleted once their visit is closed, or this many days after the last
    # change (workspace.tasks.record_drafts_purge_task).
    "RETENTION_DRAFT_DAYS": env_int("RETENTION_DRAFT_DAYS", 30),
    # Event store: idempotency keys kept this many days; events that no visit points to
    # removed (by whole monthly partitions on PostgreSQL) after this many months.
    "EVENT_KEY_DAYS": env_int("EVENT_KEY_DAYS", 35),
    "EVENT_RETENTION_MONTHS": env_int("EVENT_RETENTION_MONTHS", 13),
    "PASSWORD_MAX_AGE_DAYS": env_int("PASSWORD_MAX_AGE_DAYS", 90),
    "BACKUP_DIR": env_str("BACKUP_DIR", str(VAR_DIR / "backups")),
    "BACKUP_KEEP": env_int("BACKUP_KEEP", 7),
    # Escalation deadlines by urgency: (unit, amount), unit "working_hours" or "business_days".
    "ESCALATION_DEADLINES": {
        "urgent": ("working_hours", env_int("ESCALATION_URGENT_WORKING_HOURS", 4)),
        "high": ("business_days", env_int("ESCALATION_HIGH_BUSINESS_DAYS", 1)),
        "normal": ("business_days", env_int("ESCALATION_NORMAL_BUSINESS_DAYS", 3)),
    },
    # An escalation overdue by more than this (or missed twice) is raised to the supervisors.
    "ESCALATION_RAISE_AFTER_HOURS": env_int("ESCALATION_RAISE_AFTER_HOURS", 24),
    "ESCALATION_FOLLOW_UP_BUSINESS_DAYS": env_int("ESCALATION_FOLLOW_UP_BUSINESS_DAYS", 1),
}

# Data protection and login hardening: see README, "Security".
CALLBACK.update(
    {
        # Supervisors and the three administrators must use a TOTP second factor.
        "REQUIRE_2FA": env_bool("REQUIRE_2FA", True),
        # Retention: see supervision/retention.py for the table of every model.
        "RETENTION_AUDIT_LOG_MIN_MONTHS": 6,
        "RETENTION_RECORD_MIN_YEARS": 10,
    }
)
if CALLBACK["RETENTION_RECORD_YEARS"] < CALLBACK["RETENTION_RECORD_MIN_YEARS"]:
    raise ImproperlyConfigured("RETENTION_RECORD_YEARS is below the AML Law floor of 10 years.")
if CALLBACK["RETENTION_AUDIT_LOG_MONTHS"] < CALLBACK["RETENTION_AUDIT_LOG_MIN_MONTHS"]:
    raise ImproperlyConfigured("RETENTION_AUDIT_LOG_MONTHS must be at least 6.")
OTP_TOTP_ISSUER = CALLBACK["BANK_NAME"]
DEFAULT_EXCEPTION_REPORTER = "core.logging.PiiSafeExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "core.logging.PiiSafeExceptionReporterFilter"


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.logging.RequestIdFilter"},
        "redact_pii": {"()": "core.logging.PiiRedactingFilter"},
        "refusal_without_traceback": {"()": "core.logging.RefusalWithoutTracebackFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "redact_pii"],
            "formatter": "json" if env_bool("LOG_JSON", PRODUCTION) else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Once, through the root handler (Django's own console handler would print it again).
        "django": {"handlers": [], "propagate": True},
        "django.request": {"filters": ["refusal_without_traceback"]},
    },
}
