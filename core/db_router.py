"""Read replica routing: dashboards and exports read from "replica", everything else from default.

The replica is only used where a view asks for it, inside ``replica_reads()`` (or on a queryset
with ``.using(reports_db())``). Without ``DATABASE_REPLICA_URL`` both name the default database,
so the code is the same on one machine and on many. Writes, and every read inside a
transaction on the default database, always go to default: a replica lags by a few seconds and
a read that decides a write must see the primary.

    from core.db_router import replica_reads

    with replica_reads():
        rows = list(dashboard_rows(...))
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import connections

REPLICA = "replica"
DEFAULT = "default"

_reading_from_replica: ContextVar[bool] = ContextVar("reading_from_replica", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def reports_db() -> str:
    """The alias to read dashboards and exports from: the replica when there is one."""
    return REPLICA if replica_configured() else DEFAULT


@contextmanager
def replica_reads() -> Iterator[None]:
    """Reads inside the block go to the replica (when there is one and no transaction is open)."""
    token = _reading_from_replica.set(True)
    try:
        yield
    finally:
        _reading_from_replica.reset(token)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if not _reading_from_replica.get() or not replica_configured():
            return DEFAULT
        if connections[DEFAULT].in_atomic_block:
            return DEFAULT
        return REPLICA

    def db_for_write(self, model, **hints):
        return DEFAULT

    def allow_relation(self, obj1, obj2, **hints):
        # Both aliases hold the same data: objects read from the replica may be related to
        # objects of the primary.
        return {obj1._state.db, obj2._state.db} <= {DEFAULT, REPLICA, None}

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # A physical replica follows the primary; migrations run on the primary only.
        return db == DEFAULT


class ReplicaReadsMiddleware:
    """GET requests to the views named in ``settings.REPLICA_READ_VIEWS`` (the supervisors'
    dashboard and exports) read from the replica: a statistics page can afford a second of lag,
    and the primary is spared their big aggregates. Writes and transactions stay on default."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        token = getattr(request, "_replica_reads_token", None)
        if token is not None:
            _reading_from_replica.reset(token)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if request.method in ("GET", "HEAD") and match is not None:
            if match.view_name in settings.REPLICA_READ_VIEWS:
                request._replica_reads_token = _reading_from_replica.set(True)
        return None
