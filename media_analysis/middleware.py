"""Correlation and request ids: on every response, in every log line, on every task.

- ``X-Correlation-ID`` follows one piece of work across services: taken from the
  request when it is a valid UUID, else new. The API stores it on the analysis
  request and sends it to Celery as the task header ``correlation_id``.
- ``X-Request-ID`` names this one HTTP exchange: new for each request (a valid UUID
  sent by a proxy is kept, so its logs join ours).

Both live in context variables for the duration of the request (or task), and
``LogContextFilter`` copies them onto every log record, so the JSON formatter
writes them out. Keep this module free of model imports: ``celery.py`` imports it.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

CORRELATION_HEADER = "X-Correlation-ID"
REQUEST_HEADER = "X-Request-ID"

correlation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
task_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)
# The analysis request a task works on (the web names it in its own log extras).
analysis_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "analysis_id", default=None
)
_CONTEXT_VARS = (
    ("correlation_id", correlation_id_var),
    ("request_id", request_id_var),
    ("task_id", task_id_var),
    ("analysis_id", analysis_id_var),
)


def parse_uuid(value: str | None) -> uuid.UUID | None:
    """The UUID in ``value``, or None when it is absent or not a UUID."""
    if not value or len(value) > 64:
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def current_correlation_id() -> uuid.UUID | None:
    value = correlation_id_var.get()
    return uuid.UUID(value) if value else None


class CorrelationIdMiddleware:
    """Put the ids in context (for logs and the API) and on the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        correlation_id = str(parse_uuid(request.headers.get(CORRELATION_HEADER)) or uuid.uuid4())
        request_id = str(parse_uuid(request.headers.get(REQUEST_HEADER)) or uuid.uuid4())
        request.correlation_id = correlation_id
        request.request_id = request_id
        # Not reset when the response leaves: Django logs 4xx/5xx responses
        # ("django.request") after the middleware chain, and those lines should carry
        # the ids too. The next request on this thread overwrites them.
        correlation_id_var.set(correlation_id)
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[CORRELATION_HEADER] = correlation_id
        response[REQUEST_HEADER] = request_id
        return response


class LogContextFilter(logging.Filter):
    """Adds ``correlation_id``, ``request_id``, ``task_id`` and ``analysis_id`` to
    each record when known: from the context, or, for the lines a Celery worker's
    main process writes about a message (``extra={"data": {"id": task id}}``), from
    that message's headers (see ``ContextRequest``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT_VARS:
            value = var.get()
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        data = getattr(record, "data", None)
        if isinstance(data, dict) and data.get("id") in _message_context:
            for name, value in _message_context[data["id"]].items():
                if not hasattr(record, name):
                    setattr(record, name, value)
        return True


# ----------------------------------------------------------------------- Celery
_task_tokens: dict[str, tuple[contextvars.Token, ...]] = {}


# Celery overwrites a "correlation_id" header with the task id in the worker, so
# the copy ``audit.celery_hooks`` puts in "audit_correlation_id" at publish time
# comes first; an eager call still has the original under "headers".
_CORRELATION_HEADERS = ("audit_correlation_id", "correlation_id")


# Headers the publisher sets (analysis.outbox.task_headers) that name the HTTP
# exchange that submitted the work, and the analysis request it is about.
HTTP_REQUEST_HEADER = "http_request_id"
ANALYSIS_HEADER = "analysis_id"

# task id -> log fields, for the worker main process's lines about a message
# ("Task ... received"), written before any task context exists. Bounded.
_message_context: OrderedDict[str, dict[str, str]] = OrderedDict()
_MESSAGE_CONTEXT_LIMIT = 10_000


def remember_message_context(task_id: str, headers: dict[str, Any]) -> None:
    fields = {
        "task_id": task_id,
        "correlation_id": _first_uuid(headers, _CORRELATION_HEADERS, task_id),
        "request_id": _first_uuid(headers, (HTTP_REQUEST_HEADER,), task_id),
        "analysis_id": _first_uuid(headers, (ANALYSIS_HEADER,), task_id),
    }
    _message_context[task_id] = {k: v for k, v in fields.items() if v}
    while len(_message_context) > _MESSAGE_CONTEXT_LIMIT:
        _message_context.popitem(last=False)


def _first_uuid(headers: dict[str, Any], names: tuple[str, ...], task_id: str) -> str | None:
    for name in names:
        value = headers.get(name)
        if isinstance(value, str) and value != task_id and parse_uuid(value):
            return str(parse_uuid(value))
    return None


def _task_header(task: Any, name: str) -> str | None:
    request = getattr(task, "request", None)
    headers = getattr(request, "headers", None) or {}
    for value in (getattr(request, name, None), headers.get(name)):
        if isinstance(value, str) and parse_uuid(value):
            return str(parse_uuid(value))
    return None


def task_correlation_id(task: Any, task_id: str | None) -> uuid.UUID | None:
    request = getattr(task, "request", None)
    headers = getattr(request, "headers", None) or {}
    for name in _CORRELATION_HEADERS:
        for value in (getattr(request, name, None), headers.get(name)):
            if isinstance(value, str) and value != task_id and parse_uuid(value):
                return parse_uuid(value)
    return None


def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id is None:
        return
    correlation = task_correlation_id(task, task_id)
    _task_tokens[task_id] = (
        # No header (an eager call): the caller's ids stay in force.
        correlation_id_var.set(str(correlation) if correlation else correlation_id_var.get()),
        task_id_var.set(task_id),
        request_id_var.set(_task_header(task, HTTP_REQUEST_HEADER) or request_id_var.get()),
        analysis_id_var.set(_task_header(task, ANALYSIS_HEADER) or analysis_id_var.get()),
    )


def _task_finished(task_id: str | None = None, **_: Any) -> None:
    tokens = _task_tokens.pop(task_id, None) if task_id else None
    if tokens is None:
        return
    variables = (correlation_id_var, task_id_var, request_id_var, analysis_id_var)
    try:
        for var, token in zip(variables, tokens, strict=True):
            var.reset(token)
    except ValueError:  # set in another context (eager mode in a thread): just clear
        for var in variables:
            var.set(None)


def connect_celery_log_context() -> None:
    """Make a task's log lines carry the correlation id it was sent with."""
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_started, weak=False, dispatch_uid="media_analysis.log_context.start")
    task_postrun.connect(_task_finished, weak=False, dispatch_uid="media_analysis.log_context.end")
