"""The one retry policy of every scheduled job: transient database errors are retried with
back-off; everything else fails loudly. Tasks are thin and safe to run twice (see the services)."""

from django.db import OperationalError

RETRY_POLICY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}
