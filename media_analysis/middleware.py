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
    REQUEST_HEADER,
    new_exchange_id,
    parse_uuid,
    serving,
)


def _meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


# Read from META: ``request.headers`` would build a dict of every header first,
# a cost every request (a status poll most of all) would pay.
_CORRELATION_META = _meta_key(CORRELATION_HEADER)
_REQUEST_META = _meta_key(REQUEST_HEADER)


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        correlation_id = str(parse_uuid(request.META.get(_CORRELATION_META)) or new_exchange_id())
        request_id = str(parse_uuid(request.META.get(_REQUEST_META)) or new_exchange_id())
        request.correlation_id = correlation_id
        request.request_id = request_id
        with serving(request):
            response = self.get_response(request)
        response[CORRELATION_HEADER] = correlation_id
        response[REQUEST_HEADER] = request_id
        return response
