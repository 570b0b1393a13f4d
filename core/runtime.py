"""What a long-running process (a gunicorn worker, a Celery worker) does once it has started:
load every module a request or a task will need, then move what startup made into the
garbage collector's permanent generation (``gc.freeze``).

Without it each full collection walks every object Django and the apps made at startup
(modules, URL patterns, models, translations: several hundred thousand objects), although
none of them ever becomes garbage. A batch of 1,000 events allocates enough to trigger such
collections, which were a fifth of its time (bench/api_ingest.py). Objects made afterwards are
collected as before: freezing only exempts what exists at the moment of the call.

The young generation is then collected every ``GC_THRESHOLDS[0]`` allocations (50,000 by
default) instead of Python's 700: a request's objects are freed by reference counting, and the
collector's passes over them were an eighth of an ingestion batch's time.

Nothing of Django is imported at this module's top: callback_admin/wsgi.py and celery.py import
it before the settings are set up.
"""

import gc


def settle_after_startup() -> None:
    """Import the URLconf (and with it every view), then freeze what exists, and set the
    collector's thresholds (``settings.GC_THRESHOLDS``)."""
    from django.conf import settings
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view module now, not on request 1
    gc.collect()
    gc.freeze()
    gc.set_threshold(*settings.GC_THRESHOLDS)
