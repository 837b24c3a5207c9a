"""The one base of every error the service reports on purpose.

A ``ServiceError`` has a stable ``code`` (for programs), a ``message`` (for
people), the ``http_status`` the API answers with and, where one input is at
fault, the ``field``. Domain errors (ingest, media processing, providers, storage,
dependencies, state rules) subclass it, so there is one translation to an HTTP
response (``analysis/api/exceptions.py``) and one to a failed request's
``error_code`` / ``error_message`` (``analysis/pipeline.py``). Pure Python: the
media processing package, which imports no Django, uses it too.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    http_status: int = 400

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        http_status: int | None = None,
    ):
        super().__init__(message)
        self.code = str(code)
        self.message = message
        self.field = field
        if http_status is not None:
            self.http_status = http_status

    def __str__(self) -> str:
        return self.message

    def details(self) -> dict[str, Any]:
        """Fields beyond code, message and field in the API's error object."""
        return {}

    def http_headers(self) -> dict[str, str]:
        """Headers the HTTP answer carries (``Retry-After``, say)."""
        return {}

    @property
    def failure_message(self) -> str:
        """What a request failed by this error records as its ``error_message``."""
        return self.message

    @property
    def failure_metadata(self) -> dict[str, Any]:
        """What a request failed by this error keeps in its ``metadata`` beyond the
        code and message (the raw answers of a ``schema_mismatch``, say)."""
        return {}

    def as_dict(self) -> dict[str, Any]:
        """The ``error`` object of an API answer."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return {**body, **self.details()}


class InvalidRequest(ServiceError):
    """Input the service refuses; nothing was stored."""

    http_status = 400


class RequestNotFound(ServiceError):
    http_status = 404


class StateConflict(ServiceError):
    """The request is not in a state that allows this."""

    http_status = 409
