"""What a long-running process (a gunicorn worker, a Celery worker) does once it has started:
load every module a request or a task will need, then move what startup made into the
garbage collector's permanent generation (``gc.freeze``).

Without it each full collection walks every object Django and the apps made at startup
(modules, URL patterns, models, translations: several hundred thousand objects), although
none of them ever becomes garbage. A batch of 1,000 events allocates enough to trigger such
collections, which were a fifth of its time (bench/api_ingest.py). Objects made afterwards are
collected as before: freezing only exempts what exists at the moment of the call.

Nothing of Django is imported at this module's top: callback_admin/wsgi.py and celery.py import
it before the settings are set up.
"""

import gc


def settle_after_startup() -> None:
    """Import the URLconf (and with it every view), then freeze what exists."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view module now, not on request 1
    gc.collect()
    gc.freeze()
