"""Ties audit entries written while serving a request to that request.

Used instead of auditlog's ``AuditlogMiddleware``, which reads ``request.user``
as the request arrives (before DRF has authenticated a token, so API changes
would have no actor) and believes the first ``X-Forwarded-For`` entry from
anyone. Here the user, the client address (``TRUSTED_PROXIES``) and the
correlation id are read when an entry is written (``audit.context``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit.context import serving


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with serving(request):
            return self.get_response(request)
