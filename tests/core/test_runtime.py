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
