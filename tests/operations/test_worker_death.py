"""A worker that dies mid-analysis, as a crashed container or the OOM killer
leaves it: its request completes exactly once on a worker that is running, within
three minutes, with the recovery counted apart from the caller's retries. A worker
that is alive but slow (here: frozen with SIGSTOP) is never taken over, and a
worker asked to stop (SIGTERM) finishes what it runs.

Each test prints what it measured."""

from __future__ import annotations

import signal
import time

import psutil
import pytest

from analysis.models import AnalysisRequest, AnalysisResult
from storage_app.models import ContactSheet
from tests.conftest import wait_until
from tests.operations.stack import submit_upload

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RECOVERY_BOUND_SECONDS = 180


def _status(api, analysis_id: str) -> str:
    return api.get(f"/api/media/status/{analysis_id}").json()["status"]


def _submit_slow_video(stack, api, video, slow_provider) -> str:
    response = submit_upload(api, video, provider="openai")
    assert response.status_code == 202, response.text
    # Frames and the contact sheet are stored; the provider is thinking.
    wait_until(lambda: slow_provider.received == 1, 60, "the analysis to ask its provider")
    return response.json()["id"]


def _completed_once(analysis_id: str) -> AnalysisRequest:
    request = AnalysisRequest.objects.get(pk=analysis_id)
    assert request.status == "completed", (request.error_code, request.error_message)
    assert AnalysisResult.objects.filter(request_id=analysis_id).count() == 1
    assert ContactSheet.objects.filter(request_id=analysis_id).count() == 1
    return request


def _pool_children(worker) -> list[psutil.Process]:
    return psutil.Process(worker.pid).children(recursive=True)


def test_a_sigkilled_worker_s_analysis_completes_once_within_the_bound(stack, slow_provider, video):
    stack.env.update(slow_provider.env())
    stack.start_web()
    doomed = stack.start_worker()
    stack.start_beat()
    with stack.api() as api:
        analysis_id = _submit_slow_video(stack, api, video, slow_provider)
        doomed.kill()  # SIGKILL to the worker and its pool children at once
        died = time.monotonic()
        stack.start_worker()  # the same command, as a restart policy would
        wait_until(
            lambda: _status(api, analysis_id) in ("completed", "failed"),
            RECOVERY_BOUND_SECONDS,
            "the dead worker's analysis to complete elsewhere",
            every=0.5,
        )
        recovered_in = time.monotonic() - died
    print(f"\nSIGKILLed worker: its analysis completed {recovered_in:.1f} s after the kill")
    request = _completed_once(analysis_id)
    assert recovered_in < RECOVERY_BOUND_SECONDS
    assert request.metadata["recoveries"] == 1
    assert request.metadata["last_recovery"]["reason"] == "heartbeat_expired"
    assert request.retry_count == 0
    assert slow_provider.received == 2


def test_a_killed_pool_process_is_redelivered_at_once(stack, slow_provider, video):
    stack.env.update(slow_provider.env())
    stack.start_web()
    worker = stack.start_worker()
    with stack.api() as api:
        analysis_id = _submit_slow_video(stack, api, video, slow_provider)
        for child in _pool_children(worker):  # the OOM killer's choice: a child
            child.send_signal(signal.SIGKILL)
        died = time.monotonic()
        wait_until(
            lambda: _status(api, analysis_id) in ("completed", "failed"),
            60,
            "the redelivered analysis",
            every=0.5,
        )
        recovered_in = time.monotonic() - died
    print(f"\nSIGKILLed pool process: analysis completed {recovered_in:.1f} s after the kill")
    request = _completed_once(analysis_id)
    assert request.metadata["recoveries"] == 1
    assert request.metadata["last_recovery"]["reason"] == "redelivered"
    assert request.retry_count == 0
    assert worker.alive()


def test_a_frozen_but_alive_analysis_is_never_taken_over(stack, slow_provider, video):
    # A short lease and a beat that looks every second, so the freeze outlasts the
    # lease many times over; a second worker stands ready to take over wrongly.
    quick = {
        "ANALYSIS_HEARTBEAT_SECONDS": "1",
        "ANALYSIS_LEASE_SECONDS": "3",
        "ANALYSIS_RECOVER_EVERY_SECONDS": "1",
    }
    stack.env.update({**slow_provider.env(), **quick})
    stack.start_web()
    frozen = stack.start_worker()
    stack.start_beat()
    with stack.api() as api:
        analysis_id = _submit_slow_video(stack, api, video, slow_provider)
        stack.start_worker()
        children = _pool_children(frozen)
        for child in children:
            child.send_signal(signal.SIGSTOP)
        try:
            wait_until(
                lambda: _worker_saw_alive(stack),
                30,
                "the recovery to find the stale heartbeat and leave the live run alone",
            )
            time.sleep(3)
        finally:
            for child in children:
                child.send_signal(signal.SIGCONT)
        wait_until(lambda: _status(api, analysis_id) == "completed", 60, "the analysis")
    request = _completed_once(analysis_id)
    assert "recoveries" not in request.metadata
    assert slow_provider.received == 1


def _worker_saw_alive(stack) -> bool:
    # The recovery runs on a worker and says when it left a live run alone.
    return any(
        entry.get("alive") == 1
        for process in stack.processes
        if process.name == "worker"
        for entry in process.json_lines()
    )


def test_sigterm_lets_the_running_analysis_finish(stack, slow_provider, video):
    stack.env.update(slow_provider.env())
    stack.start_web()
    worker = stack.start_worker()
    with stack.api() as api:
        analysis_id = _submit_slow_video(stack, api, video, slow_provider)
        asked = time.monotonic()
        assert worker.terminate(timeout=60) == 0
        stopped_in = time.monotonic() - asked
    print(f"\nSIGTERM: the worker finished its analysis and exited in {stopped_in:.1f} s")
    request = _completed_once(analysis_id)
    assert "recoveries" not in request.metadata
    assert slow_provider.received == slow_provider.answered == 1
    assert not any(p.status() != psutil.STATUS_ZOMBIE for p in _alive(worker.pid))


def _alive(pid: int) -> list[psutil.Process]:
    try:
        return [psutil.Process(pid)]
    except psutil.NoSuchProcess:
        return []
