"""A request caught by a database outage (a restart, a failover to the replica) answers
``503 Service Unavailable`` with ``Retry-After``, not a 500: clients such as core banking retry
a 503, and the transaction of the request was rolled back, so nothing is half-written."""

import logging
import re

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
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


_SESSION_KEY = re.compile(r"^[a-z0-9]{8,64}$")


class MalformedCookieMiddleware:
    """A session cookie that no session key could ever look like (NUL bytes, control
    characters: garbage from a broken or hostile client) is dropped before the session
    middleware looks it up, so the request goes on anonymously instead of failing in the
    database with a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = settings.SESSION_COOKIE_NAME
        value = request.COOKIES.get(name)
        if value is not None and not _SESSION_KEY.match(value):
            del request.COOKIES[name]
        return self.get_response(request)


class MethodNotAllowedMiddleware:
    """A page that only takes a form (POST) answers a plain visit, like a reload after a
    refused form or a sign-in whose ``next`` pointed at the form's address, by sending the
    browser to the page the form belongs to: the nearest address above it that exists. Other
    methods get the product's 405 page. The API keeps its own JSON answers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or request.path.startswith("/api/"):
            return response
        if request.method in ("GET", "HEAD"):
            return HttpResponseRedirect(_page_above(request.path))
        allowed = response.get("Allow", "")
        page = render(request, "405.html", {"allowed": allowed}, status=405)
        if allowed:
            page["Allow"] = allowed
        return page


def _page_above(path: str) -> str:
    parts = [part for part in path.split("/") if part]
    while parts:
        parts.pop()
        candidate = "/" + "/".join(parts) + ("/" if parts else "")
        try:
            resolve(candidate)
        except Resolver404:
            continue
        # A page above that is itself a form address sends the browser one step further up.
        return candidate
    return "/"
