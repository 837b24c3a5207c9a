"""The request context on Celery tasks (``media_analysis.context``): carried in the
message headers, entered around each task, and known to the worker's lines about
a message before its task starts.

- ``before_task_publish``: the correlation id goes into ``CORRELATION_TASK_HEADER``,
  the one the publisher passed as a ``correlation_id`` header, else the current
  context's (the API call, the admin action, the task that queued this one).
- ``task_prerun``: the task runs in a scope of its own: its declared actor
  (``audit_actor``, set where the task is declared), its id, and from its headers
  the correlation id, the submitting exchange's id and the analysis id. A header
  that is absent (an eager call) leaves the caller's value in force.
- ``task_postrun``: the scope is left.
- ``remember_message_context``: called by the worker as a message arrives
  (``media_analysis.celery.ContextRequest``), so its "received" line carries the ids.

Keep this module free of model imports: ``celery.py`` imports it.
"""

from __future__ import annotations

from contextvars import Token
from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun

from media_analysis import context

# Celery overwrites a "correlation_id" header with the task id in the worker, so the
# correlation id travels in a header of our own. Its name predates this module and
# is kept: messages already queued by an older version carry it.
CORRELATION_TASK_HEADER = "audit_correlation_id"
# Headers the publisher sets (analysis.outbox.task_headers) naming the HTTP exchange
# that submitted the work and the analysis request it is about.
CORRELATION_HEADER = "correlation_id"
HTTP_REQUEST_HEADER = "http_request_id"
ANALYSIS_HEADER = "analysis_id"
# Ours first; an eager call still has the publisher's "correlation_id".
_CORRELATION_HEADERS = (CORRELATION_TASK_HEADER, CORRELATION_HEADER)

_open: dict[str, Token[context.Scope | None]] = {}


def task_actor(task: Any) -> str:
    """The actor a task's changes are made by: its ``audit_actor`` option, else one
    named after the task."""
    return getattr(task, "audit_actor", None) or f"{context.SYSTEM_PREFIX}task:{task.name}"


def add_context_headers(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is None or headers.get(CORRELATION_TASK_HEADER):
        return
    cid = context.parse_uuid(headers.get(CORRELATION_HEADER)) or context.current_correlation_id()
    if cid is not None:
        headers[CORRELATION_TASK_HEADER] = str(cid)


def enter_task_context(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id is None or task is None:
        return
    request = getattr(task, "request", None)
    # A worker copies the headers onto the request as attributes; an eager call
    # keeps them under "headers".
    sources = (_attributes(request), getattr(request, "headers", None) or {})
    _open[task_id] = context.enter(
        actor=task_actor(task),
        correlation_id=_first_uuid(sources, _CORRELATION_HEADERS, task_id),
        request_id=_first_uuid(sources, (HTTP_REQUEST_HEADER,), task_id),
        analysis_id=_first_uuid(sources, (ANALYSIS_HEADER,), task_id),
        task_id=task_id,
    )


def leave_task_context(task_id: str | None = None, **_: Any) -> None:
    token = _open.pop(task_id, None) if task_id else None
    if token is not None:
        context.leave(token)


def remember_message_context(task_id: str, headers: dict[str, Any]) -> None:
    fields = {
        "task_id": task_id,
        "correlation_id": _first_uuid((headers,), _CORRELATION_HEADERS, task_id),
        "request_id": _first_uuid((headers,), (HTTP_REQUEST_HEADER,), task_id),
        "analysis_id": _first_uuid((headers,), (ANALYSIS_HEADER,), task_id),
    }
    context.remember_message(task_id, {k: v for k, v in fields.items() if v})


def connect_celery_context() -> None:
    """Carry the context into every task this process publishes or runs."""
    before_task_publish.connect(
        add_context_headers, weak=False, dispatch_uid="media_analysis.context.publish"
    )
    task_prerun.connect(enter_task_context, weak=False, dispatch_uid="media_analysis.context.enter")
    task_postrun.connect(
        leave_task_context, weak=False, dispatch_uid="media_analysis.context.leave"
    )


def _attributes(request: Any) -> dict[str, Any]:
    names = (*_CORRELATION_HEADERS, HTTP_REQUEST_HEADER, ANALYSIS_HEADER)
    return {name: getattr(request, name, None) for name in names}


def _first_uuid(
    sources: tuple[dict[str, Any], ...], names: tuple[str, ...], task_id: str
) -> str | None:
    """The first of ``names`` holding a UUID in any source; the task's own id is
    Celery's "correlation_id", not ours."""
    for name in names:
        for source in sources:
            value = source.get(name)
            if isinstance(value, str) and value != task_id and context.parse_uuid(value):
                return str(context.parse_uuid(value))
    return None
