"""A batch's parsed body and its answer are freed when the response is sent, by reference
counting, not left in reference cycles for the garbage collector (core.api.base.ApiView)."""

import gc
import io
import json

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from tests.factories import AccountFactory

from .conftest import txn_event

pytestmark = [pytest.mark.django_db]


def _post_through_wsgi(path: str, body: bytes, key: str) -> str:
    """The request as gunicorn hands it over: no test client keeping the response."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "HTTP_AUTHORIZATION": f"Token {key}",
    }
    statuses = []
    # As Django's test client does: the test's connection (its transaction) stays open.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        chunks = WSGIHandler()(
            environ, lambda status, headers, exc_info=None: statuses.append(status)
        )
        b"".join(chunks)
        chunks.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return statuses[0]


def test_a_batch_leaves_no_cycle_holding_its_events_or_its_answer(core_banking, frozen_now):
    account = AccountFactory()
    events = [txn_event(f"GC-{i}", account.number, "120.00") for i in range(200)]
    body = json.dumps({"events": events}).encode()
    _post_through_wsgi("/api/v1/events/batch", body, core_banking[1])  # warm: imports, caches

    body = json.dumps({"events": [{**e, "event_id": "R" + e["event_id"]} for e in events]})
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds unreachable is kept to look at
    try:
        status = _post_through_wsgi("/api/v1/events/batch", body.encode(), core_banking[1])
        gc.collect()
        left = [o for o in gc.garbage if type(o) is list and len(o) >= 200]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert status.startswith("200"), status
    # Without the references dropped: the 200 parsed events and the 200 results.
    assert left == []
