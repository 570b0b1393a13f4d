"""Never a 500 on bad input. DRF's own handler first; then a 400 in the contract's shape
(``{"non_field_errors": [...]}``) for a request-level 400 that DRF words as ``{"detail": ...}``
(malformed JSON); database errors that bad input could still reach (a value out of range, a
constraint) become 400s too, so that a client learns its request is at fault."""

import logging

from django.core.exceptions import RequestDataTooBig
from django.db import DataError, IntegrityError
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.api.base import RequestTooLarge

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        # DRF reads request.body for JSON and form parsers, so Django's own
        # DATA_UPLOAD_MAX_MEMORY_SIZE check fires before StrictJSONParser's: the same 413.
        exc = RequestTooLarge()
    response = drf_exception_handler(exc, context)
    if response is not None:
        if (
            response.status_code == status.HTTP_400_BAD_REQUEST
            and isinstance(response.data, dict)
            and set(response.data) == {"detail"}
        ):
            response.data = {"non_field_errors": [response.data["detail"]]}
        return response
    if isinstance(exc, IntegrityError):
        logger.warning("integrity error turned into 400: %s", type(exc).__name__)
        return Response(
            {"non_field_errors": [_("请求与现有数据冲突。")]},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, DataError | OverflowError):
        logger.warning("data error turned into 400: %s", type(exc).__name__)
        return Response(
            {"non_field_errors": [_("请求中的数值超出范围。")]},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return None
