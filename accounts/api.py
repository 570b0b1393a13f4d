"""REST endpoints for branches, customers, accounts and events (shared/API.md)."""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


def _broker_ok() -> bool:
    from callback_admin.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # noqa: BLE001 - any failure means "down"
        return False


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001
        return False


@require_GET
def health(request):
    """200 {"database": "ok", "broker": "ok"}, or 503 naming the part that is down."""
    parts = {
        "database": "ok" if _database_ok() else "down",
        "broker": "ok" if _broker_ok() else "down",
    }
    status = 200 if all(v == "ok" for v in parts.values()) else 503
    return JsonResponse(parts, status=status)
