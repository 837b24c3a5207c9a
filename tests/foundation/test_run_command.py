"""`python3 dev.py run` brings up gunicorn, a Celery worker and Celery beat that
serve the admin login, answer a ping, and all stop together on SIGTERM or SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from media_analysis.embedded import free_port
from tests.conftest import ROOT, database_url


def _wait_for(url: str, deadline: float) -> int:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in time")


def _children_named(process: psutil.Process, word: str) -> list[psutil.Process]:
    return [p for p in process.children(recursive=True) if word in _command_line(p)]


def _command_line(process: psutil.Process) -> str:
    # A short-lived child (a probe, a pg_ctl) may have exited between the listing
    # and this read: a zombie or gone, it is none of the ones looked for.
    try:
        return " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return ""


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_run_command_serves_admin_with_worker_and_beat(scratch_database, tmp_path, stop_signal):
    port = free_port()
    env = {
        **os.environ,
        "MEDIA_ANALYSIS_DEV_INSIDE_VENV": "1",  # this interpreter is already the venv's
        "DATABASE_URL": database_url(scratch_database),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "MEDIA_ANALYSIS_STORAGE_ROOT": str(tmp_path / "storage"),
    }
    dev = subprocess.Popen([sys.executable, str(ROOT / "dev.py"), "run"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 120
        assert _wait_for(f"http://127.0.0.1:{port}/admin/login/", deadline) == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=10) as ready:
            assert ready.status == 200
        parent = psutil.Process(dev.pid)
        assert _children_named(parent, "gunicorn")
        assert _children_named(parent, " beat")
        worker = _children_named(parent, " worker")
        assert worker

        from media_analysis.celery import app

        replies = []
        while not replies and time.monotonic() < deadline:
            replies = app.control.ping(timeout=1.0)
        assert replies, "the Celery worker did not answer a ping"
    finally:
        children = parent.children(recursive=True)
        dev.send_signal(stop_signal)  # `kill`, or Ctrl-C
        assert dev.wait(timeout=90) == 0
    # Every child is gone: gunicorn and its workers, the worker and its pool, beat.
    for child in children:
        assert not psutil.pid_exists(child.pid) or child.status() == psutil.STATUS_ZOMBIE
