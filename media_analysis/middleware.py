"""One middleware puts each HTTP exchange in the request context
(``media_analysis.context``): for log lines, audit entries and the tasks it queues.

- ``X-Correlation-ID`` follows one piece of work across services: taken from the
  request when it is a valid UUID, else new. The API stores it on the analysis
  request, and its tasks carry it.
- ``X-Request-ID`` names this one exchange: new for each request (a valid UUID
  sent by a proxy is kept, so its logs join ours).

Both go on the response. Audit entries written while serving read the user when
they are written (DRF authenticates tokens inside the view, after every
middleware) and the client's address behind ``TRUSTED_PROXIES``; this replaces
auditlog's ``AuditlogMiddleware``, which reads ``request.user`` too early and
believes anyone's ``X-Forwarded-For``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from media_analysis.context import (
    CORRELATION_HEADER,
    CORRELATION_META,
    REQUEST_HEADER,
    REQUEST_META,
    exchange_id_text,
    serving,
)


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        correlation_id = exchange_id_text(request.META.get(CORRELATION_META))
        request_id = exchange_id_text(request.META.get(REQUEST_META))
        request.correlation_id = correlation_id
        request.request_id = request_id
        with serving(request):
            response = self.get_response(request)
        response[CORRELATION_HEADER] = correlation_id
        response[REQUEST_HEADER] = request_id
        return response
