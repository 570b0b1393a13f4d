"""GET /api/v1/health (docs/API.md): the database, the broker and next year's calendar, without
a key; 503 when a part is down."""

from celery import current_app as app
from django.db import connection
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.decorators import throttle_classes as throttle_classes_decorator
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from core.calendar import calendar_status

# --- Health --------------------------------------------------------------------------------


def _broker_ok() -> bool:
    try:
        with app.connection_for_write() as conn:
            # One quick retry, no back-off: a health check answers within seconds.
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
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


HEALTH = inline_serializer(
    "Health",
    {
        "database": serializers.ChoiceField(choices=["ok", "down"]),
        "broker": serializers.ChoiceField(choices=["ok", "down"]),
        "calendar": serializers.CharField(
            help_text=_(
                '"ok"；自 11 月 1 日起下一年未导入时为 "next year missing: YYYY"（仍为 200）'
            )
        ),
    },
)


@extend_schema(
    auth=[],
    responses={200: HEALTH, 503: OpenApiResponse(HEALTH, description=_("某部分不可用"))},
    summary=_("健康检查"),
    operation_id="health",
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes_decorator([])
def health(request):
    """200 {"database": "ok", "broker": "ok", "calendar": "ok"}, or 503 naming the part that is
    down. ``calendar`` warns from 1 November while next year's plan is not loaded (still 200)."""
    database = _database_ok()
    parts = {
        "database": "ok" if database else "down",
        "broker": "ok" if _broker_ok() else "down",
    }
    code = 200 if all(v == "ok" for v in parts.values()) else 503
    parts["calendar"] = calendar_status() if database else "unknown"
    return Response(parts, status=code)


# --- Branches, customers, accounts ----------------------------------------------------------
