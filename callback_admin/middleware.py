"""A request caught by a database outage (a restart, a failover to the replica) answers
``503 Service Unavailable`` with ``Retry-After``, not a 500: clients such as core banking retry
a 503, and the transaction of the request was rolled back, so nothing is half-written."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning(
            "database unavailable: %s %s: %s",
            request.method,
            request.path,
            exception.__class__.__name__,
        )
        message = _("数据库暂时不可用，请稍后重试。")
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": message}, status=503)
        else:
            response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
