"""One place that turns domain errors into HTTP answers (REST_FRAMEWORK["EXCEPTION_HANDLER"])."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import DomainError
from ..resilience import dependency_name, is_dependency_error, rate_limited_log

logger = logging.getLogger(__name__)

DEPENDENCY_RETRY_AFTER_SECONDS = 10


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response({"detail": str(exc)}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if is_dependency_error(exc):
        # Redis, the broker or the database is down: a JSON 503 the client may retry, not a 500.
        rate_limited_log.warning("api.dependency_unavailable", service=dependency_name(exc))
        return Response(
            {
                "detail": "A service this request needs is temporarily unavailable. Try again shortly.",
                "code": "service_unavailable",
                "service": dependency_name(exc),
            },
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DEPENDENCY_RETRY_AFTER_SECONDS)},
        )
    return drf_exception_handler(exc, context)
