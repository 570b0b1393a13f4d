"""core.runtime: a web or Celery worker freezes what startup made, with every view loaded."""

import os
import subprocess
import sys
from pathlib import Path

from celery.signals import worker_process_init

ROOT = Path(__file__).resolve().parents[2]


def test_the_wsgi_application_starts_with_its_views_loaded_and_its_heap_frozen():
    probe = (
        "import gc, sys; import callback_admin.wsgi; "
        "print(gc.get_freeze_count() > 10000, 'workspace.views' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "callback_admin.settings_test"}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "True"]


def test_each_celery_worker_process_does_the_same():
    import callback_admin.celery as celery_module

    receivers = [ref() for _key, ref in worker_process_init.receivers]
    assert celery_module._settle_worker in receivers


def test_a_worker_collects_its_young_objects_at_the_configured_threshold():
    probe = "import gc; import callback_admin.wsgi; print(*gc.get_threshold())"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "callback_admin.settings_test",
        "GC_THRESHOLDS": "30000,15,12",
    }
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["30000", "15", "12"]


def test_bad_thresholds_stop_the_start_with_the_setting_named():
    for bad in ("0,10,10", "1000,10", "a,b,c", "1000,-1,10"):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "callback_admin.settings_test",
            "GC_THRESHOLDS": bad,
        }
        out = subprocess.run(
            [sys.executable, "-c", "import callback_admin.wsgi"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert out.returncode != 0
        assert "GC_THRESHOLDS must be three whole numbers" in out.stderr, bad
