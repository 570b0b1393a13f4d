"""Production refuses to start misconfigured; a correct production environment passes
``check --deploy`` with no warning."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "k" * 20 + "production-secret-key-for-the-settings-test-0123456789",
    "ALLOWED_HOSTS": "callback.bank.example",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "BLIND_INDEX_KEY": "b" * 40,
    "AUDIT_CHAIN_KEYS": "a" * 40,
    "DEBUG": "",
}

pytestmark = pytest.mark.spec("6.pii")


def _run(code: str, **changes) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(GOOD)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["DJANGO_SETTINGS_MODULE"] = "callback_admin.settings"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )


def _settings_error(**changes) -> str:
    result = _run("import callback_admin.settings", **changes)
    assert result.returncode != 0, "production settings accepted a bad configuration"
    assert "ImproperlyConfigured" in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_it_accepts_a_complete_production_environment():
    result = _run("import callback_admin.settings as s; print(s.DEBUG, s.ALLOWED_HOSTS)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False ['callback.bank.example']"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"DEBUG": "true"}, "DEBUG"),
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": "too-short"}, "SECRET_KEY"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
        ({"FIELD_ENCRYPTION_KEYS": None}, "FIELD_ENCRYPTION_KEYS"),
        ({"FIELD_ENCRYPTION_KEYS": "not-a-fernet-key"}, "FIELD_ENCRYPTION_KEYS"),
        ({"BLIND_INDEX_KEY": "short"}, "BLIND_INDEX_KEY"),
        ({"AUDIT_CHAIN_KEYS": None}, "AUDIT_CHAIN_KEYS"),
        ({"AUDIT_CHAIN_KEYS": f"{'n' * 40},short"}, "AUDIT_CHAIN_KEYS"),
    ],
)
def test_it_refuses_to_start_misconfigured(changes, named):
    assert named in _settings_error(**changes)


def test_it_names_the_bad_key_among_several():
    keys = f"{Fernet.generate_key().decode()},abc"
    assert "key number 2" in _settings_error(FIELD_ENCRYPTION_KEYS=keys)


def test_it_passes_check_deploy_without_warnings():
    result = _run(
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "no issues" in result.stdout
