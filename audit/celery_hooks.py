"""Audit context for Celery tasks: a named system actor and the correlation id of
whoever queued the task.

- ``before_task_publish`` copies the correlation id into the message header
  ``audit_correlation_id``: the one the publisher passed as a ``correlation_id``
  header, else the one of the current context (the API call, the admin action).
  Celery's own ``correlation_id`` (the task id) overwrites a custom header of that
  name in the worker, hence a header of our own.
- ``task_prerun`` / ``task_postrun`` run the task inside ``acting_as(actor)``.
  The actor is the task's ``audit_actor`` attribute, else its module's
  ``SYSTEM_ACTOR`` (``"system:pipeline"``, ``"system:cleanup"``), else
  ``"system:task:<task name>"``.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack

from celery.signals import before_task_publish, task_postrun, task_prerun

from audit.context import SYSTEM_PREFIX, acting_as, current_correlation_id, parse_uuid

CORRELATION_HEADER = "audit_correlation_id"

_open: dict[str, ExitStack] = {}


def task_actor(task) -> str:
    explicit = getattr(task, "audit_actor", None)
    if explicit:
        return explicit
    module_actor = getattr(sys.modules.get(type(task).__module__), "SYSTEM_ACTOR", None)
    if isinstance(module_actor, str) and module_actor:
        return module_actor
    return f"{SYSTEM_PREFIX}task:{task.name}"


def add_correlation_header(sender=None, headers=None, **kwargs) -> None:
    if headers is None or headers.get(CORRELATION_HEADER):
        return
    cid = parse_uuid(headers.get("correlation_id")) or parse_uuid(current_correlation_id())
    if cid is not None:
        headers[CORRELATION_HEADER] = str(cid)


def enter_task_context(sender=None, task_id=None, task=None, **kwargs) -> None:
    if task is None or task_id is None:
        return
    request = task.request
    cid = getattr(request, CORRELATION_HEADER, None) or (
        (getattr(request, "headers", None) or {}).get(CORRELATION_HEADER)
    )
    stack = ExitStack()
    # No header (an eager call): the caller's correlation id stays in force.
    stack.enter_context(acting_as(task_actor(task), correlation_id=parse_uuid(cid)))
    _open[task_id] = stack


def leave_task_context(sender=None, task_id=None, **kwargs) -> None:
    stack = _open.pop(task_id, None)
    if stack is not None:
        stack.close()


def connect() -> None:
    before_task_publish.connect(add_correlation_header, dispatch_uid="audit-correlation-header")
    task_prerun.connect(enter_task_context, dispatch_uid="audit-task-context-enter")
    task_postrun.connect(leave_task_context, dispatch_uid="audit-task-context-leave")
