"""Test settings: fast hashing, tasks run in-process, no lockout (tested on its own)."""

import os

os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "avcUpuujp7m-E8azTHh6WdXWdbicVD6RI9u7xlqCQOQ=")
os.environ.setdefault("BLIND_INDEX_KEY", "test-blind-index-key")

from callback_admin.settings import *  # noqa: E402,F403
from callback_admin.settings import CALLBACK, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AXES_ENABLED = False
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CALLBACK = {
    **CALLBACK,
    "SMS_BACKEND": "workspace.channels.sms.OutboxBackend",
    "BACKUP_DIR": str(VAR_DIR / "test-backups"),
}
LANGUAGE_CODE = "zh-hans"
# No audit-log anchors unless a test gives a file: each test's log is rolled back.
AUDIT_ANCHOR_FILE = ""
# Second factor and password age are enforced by their own tests (tests/security/), so the
# other suites can log supervisors in with force_login and travel in time.
CALLBACK = {**CALLBACK, "REQUIRE_2FA": False, "PASSWORD_MAX_AGE_DAYS": 0}
