"""Request ids for log lines: every log record carries the id of the request it came from."""

import logging
import re
import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RequestIdMiddleware:
    """Takes X-Request-ID from the load balancer when it is sane, or makes one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        request.request_id = request_id
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


# --- No personal data in logs (PIPL; SPEC §6) ---------------------------------------------
# An 18-digit resident ID (last character may be X), an 11-digit mainland mobile, and a 16-19
# digit bank account number, each not inside a longer run of digits (letters around them do not
# protect them: "/accounts/6222...x" still carries the number).
_EDGE_L = r"(?<!\d)"
_EDGE_R = r"(?!\d)"
PII_PATTERNS = (
    ("id", re.compile(_EDGE_L + r"\d{6}(?:18|19|20)\d{2}[01]\d[0-3]\d\d{3}[\dXx]" + _EDGE_R)),
    ("account", re.compile(_EDGE_L + r"\d{16,19}" + _EDGE_R)),
    ("mobile", re.compile(_EDGE_L + r"(?:\+?86[- ]?)?1[3-9]\d{9}" + _EDGE_R)),
)


def _mask_match(kind: str, text: str) -> str:
    if kind == "mobile":
        digits = text[-11:]
        return f"{digits[:3]}****{digits[-4:]}"
    return f"{text[:4]}{'*' * (len(text) - 8)}{text[-4:]}"


def redact(text: str) -> str:
    """The text with every ID, mobile and account number masked."""
    if not text or not any(ch.isdigit() for ch in text):
        return text
    for kind, pattern in PII_PATTERNS:
        text = pattern.sub(lambda m, kind=kind: _mask_match(kind, m.group(0)), text)
    return text


def _redact_value(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10**10:
        masked = redact(str(value))
        return value if masked == str(value) else masked
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    return value


class PiiRedactingFilter(logging.Filter):
    """Masks personal numbers in the message, its arguments and the exception text, so no
    handler ever writes them in full."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what there is
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None  # the formatter would otherwise format it again, unredacted
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key in _STANDARD_ATTRS:
                continue
            record.__dict__[key] = _redact_value(value)
        return True


class RefusalWithoutTracebackFilter(logging.Filter):
    """A refused request (403) is an answer, not a fault: its log line keeps the path and
    status but drops the PermissionDenied traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403 and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True


_STANDARD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime", "request_id"}


def _exception_reporting():
    # Imported late: this module is loaded by LOGGING before Django is set up.
    from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

    class PiiSafeExceptionReporterFilter(SafeExceptionReporterFilter):
        """Error reports (technical 500, AdminEmailHandler) with personal numbers masked in
        settings, request data and traceback variables."""

        def cleanse_setting(self, key, value):
            return _redact_value(super().cleanse_setting(key, value))

        def get_safe_request_meta(self, request):
            return _redact_value(super().get_safe_request_meta(request))

        def get_post_parameters(self, request):
            params = super().get_post_parameters(request)
            if params is None:
                return params
            cleansed = params.copy()
            for key in cleansed:
                cleansed.setlist(key, [_redact_value(v) for v in cleansed.getlist(key)])
            return cleansed

        def get_traceback_frame_variables(self, request, tb_frame):
            return [
                (name, redact(value) if isinstance(value, str) else value)
                for name, value in super().get_traceback_frame_variables(request, tb_frame)
            ]

    class PiiSafeExceptionReporter(ExceptionReporter):
        """The whole report text is masked last, so the path, query string and exception
        message are covered too."""

        def get_traceback_html(self):
            return redact(str(super().get_traceback_html()))

        def get_traceback_text(self):
            return redact(str(super().get_traceback_text()))

    return PiiSafeExceptionReporterFilter, PiiSafeExceptionReporter


def __getattr__(name):
    if name in ("PiiSafeExceptionReporterFilter", "PiiSafeExceptionReporter"):
        filter_class, reporter_class = _exception_reporting()
        globals()["PiiSafeExceptionReporterFilter"] = filter_class
        globals()["PiiSafeExceptionReporter"] = reporter_class
        return globals()[name]
    raise AttributeError(name)
