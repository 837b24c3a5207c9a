"""The request context travels with Celery tasks: the correlation id into the
message headers, and each task runs as its declared actor with its message's ids,
for audit entries and log lines alike."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from media_analysis import context, task_context
from media_analysis.celery import app


def test_every_project_task_declares_its_actor():
    ours = [task for name, task in app.tasks.items() if not name.startswith("celery.")]
    assert ours
    assert all(task.audit_actor and task.audit_actor.startswith("system:") for task in ours), {
        task.name: task.audit_actor for task in ours
    }
    assert app.tasks["storage_app.tasks.cleanup_storage"].audit_actor == "system:cleanup"
    assert app.tasks["analysis.tasks.analyse_request"].audit_actor == "system:pipeline"


def test_publishing_puts_the_correlation_id_in_a_header_of_its_own():
    cid, given = uuid.uuid4(), uuid.uuid4()
    with context.acting_as(None, correlation_id=cid):
        headers: dict = {}
        task_context.add_context_headers(headers=headers)
        assert headers == {task_context.CORRELATION_TASK_HEADER: str(cid)}
        headers = {task_context.CORRELATION_HEADER: str(given)}
        task_context.add_context_headers(headers=headers)
        assert headers[task_context.CORRELATION_TASK_HEADER] == str(given)
    headers = {}
    task_context.add_context_headers(headers=headers)
    assert headers == {}


def _task(task_id: str, **headers: str) -> SimpleNamespace:
    # What a worker hands the prerun hook: Celery's "correlation_id" is the task id.
    request = SimpleNamespace(correlation_id=task_id, headers={}, **headers)
    return SimpleNamespace(name="tests.some_task", audit_actor="system:test", request=request)


def test_a_task_runs_as_its_actor_with_its_messages_ids_and_leaves_them_after():
    task_id, cid, http_id, analysis_id = (str(uuid.uuid4()) for _ in range(4))
    task = _task(
        task_id,
        audit_correlation_id=cid,
        http_request_id=http_id,
        analysis_id=analysis_id,
    )
    with context.acting_as("grace"):
        task_context.enter_task_context(task_id=task_id, task=task)
        assert context.current_actor() == "system:test"
        assert context.current_correlation_id() == uuid.UUID(cid)
        assert context.log_fields() == {
            "correlation_id": cid,
            "request_id": http_id,
            "task_id": task_id,
            "analysis_id": analysis_id,
        }
        task_context.leave_task_context(task_id=task_id)
        assert context.current_actor() == "grace"
        assert "task_id" not in context.log_fields()


def test_without_headers_the_callers_ids_stay_and_the_actor_is_named_after_the_task():
    task_id, cid = str(uuid.uuid4()), uuid.uuid4()
    task = _task(task_id)
    del task.audit_actor
    with context.acting_as(None, correlation_id=cid):
        task_context.enter_task_context(task_id=task_id, task=task)
        assert context.current_actor() == "system:task:tests.some_task"
        assert context.current_correlation_id() == cid
        task_context.leave_task_context(task_id=task_id)


def test_the_received_line_knows_the_messages_ids():
    task_id, cid = str(uuid.uuid4()), str(uuid.uuid4())
    task_context.remember_message_context(
        task_id, {"correlation_id": task_id, "audit_correlation_id": cid, "analysis_id": "junk"}
    )
    record = SimpleNamespace(data={"id": task_id})
    context.LogContextFilter().filter(record)
    assert (record.task_id, record.correlation_id) == (task_id, cid)
    assert not hasattr(record, "analysis_id")
