import os

from celery import Celery
from celery.signals import worker_process_init

from core.runtime import settle_after_startup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callback_admin.settings")

app = Celery("callback_admin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _settle_worker(**_kwargs):
    """Each worker process, once started: what startup made is left out of garbage collection
    (core/runtime.py)."""
    settle_after_startup()
