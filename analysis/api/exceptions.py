"""Every API error as one JSON shape: ``{"error": {"code", "message", "field"?, ...}}``.

Domain errors are ``ServiceError``s and carry their own status, body fields and
headers (refusals 400/404/409/422, storage 413/507, a database outage or a busy
connection pool 503 with Retry-After);
DRF's own errors keep their status and headers (401 with WWW-Authenticate, 429 with
Retry-After). Anything unexpected is logged and answered 500 in the same shape,
never with a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from media_analysis.errors import ServiceError
from media_analysis.resilience import DATABASE_ERRORS, database_error

logger = logging.getLogger(__name__)


class ApiError(ServiceError):
    """An API-level refusal with a stable code (bad id, idempotency conflict, ...)."""

    def __init__(self, status_code: int, code: str, message: str, *, field: str | None = None):
        super().__init__(code, message, field=field, http_status=status_code)


def not_found() -> ApiError:
    return ApiError(404, "not_found", "No such analysis request.")


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update({key: value for key, value in extra.items() if value is not None})
    return {"error": body}


def error_response(
    status: int, code: str, message: str, *, headers: dict | None = None, **extra: Any
) -> Response:
    set_rollback()
    return Response(error_body(code, message, **extra), status=status, headers=headers)


def api_exception_handler(exc: Exception, context: dict) -> Response:
    if isinstance(exc, DATABASE_ERRORS):
        exc = database_error(exc)  # 503: an outage, or a busy pool (database_busy)
    if isinstance(exc, ServiceError):  # every domain error: one translation
        set_rollback()
        return Response(
            {"error": exc.as_dict()}, status=exc.http_status, headers=exc.http_headers()
        )
    if isinstance(exc, RequestDataTooBig):
        return error_response(413, "request_too_large", "The request body is too large.")
    if isinstance(exc, SuspiciousOperation):
        return error_response(400, "bad_request", "The request was refused as malformed.")
    if isinstance(exc, Http404):
        return error_response(404, "not_found", "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return error_response(403, "permission_denied", "Permission denied.")

    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        return error_response(500, "internal_error", "An unexpected error occurred; it was logged.")
    response.data = _reshaped(exc, response)
    return response


def _reshaped(exc: Exception, response: Response) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        return validation_body(exc.detail)
    detail = getattr(exc, "detail", None)
    message = str(detail) if detail is not None else "Request refused."
    code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.ParseError):
        code = "malformed_request"
    extra: dict[str, Any] = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        extra["retry_after"] = max(1, int(exc.wait + 0.999))
        response["Retry-After"] = str(extra["retry_after"])
    return error_body(str(code), message, **extra)


_REQUIRED_CODES = {"required", "null", "blank"}


def validation_body(detail: Any) -> dict[str, Any]:
    """DRF validation details -> one named problem, with every message in ``details``.
    Codes follow the service's naming: ``prompt_required``, ``invalid_media_type``."""
    if isinstance(detail, dict) and detail:
        field, messages = next(iter(detail.items()))
        first = _first_detail(messages)
        base = getattr(first, "code", "invalid")
        if field == "non_field_errors":
            return error_body("invalid_request", str(first), details=_plain(detail))
        if base in _REQUIRED_CODES:
            code = f"{field}_required"
        elif base == "max_length":
            code = f"{field}_too_long"
        else:
            code = f"invalid_{field}"
        return error_body(code, f"{field}: {first}", field=field, details=_plain(detail))
    first = _first_detail(detail)
    return error_body("invalid_request", str(first) if first is not None else "Invalid request.")


def _first_detail(value: Any) -> Any:
    while isinstance(value, list | dict):
        if not value:
            return None
        value = value[0] if isinstance(value, list) else next(iter(value.values()))
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return str(value)
