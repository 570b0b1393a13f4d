"""Never a 500 on bad input: database integrity errors and unexpected parse failures become
400s naming what is wrong; everything else goes through DRF's own handler."""

import logging

from django.db import IntegrityError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, IntegrityError):
        logger.warning("integrity error turned into 400: %s", type(exc).__name__)
        return Response(
            {"non_field_errors": ["请求与现有数据冲突 / conflicts with existing data"]},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return None
