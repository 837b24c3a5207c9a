#!/usr/bin/env python3
"""One entry point for a fresh machine that has only Python 3.11+.

    python3 dev.py run      # web (gunicorn) + Celery worker + beat on http://127.0.0.1:8000
    python3 dev.py test     # the whole test suite (extra arguments go to pytest)
    python3 dev.py manage … # any manage.py command with the same environment
    python3 dev.py client   # regenerate the typed Python client in clients/python

Each creates ``.venv`` and installs the pinned requirements when they changed.
Where DATABASE_URL / REDIS_URL are not set it starts an embedded PostgreSQL and
Redis with their data under ``.local/`` (git-ignored); where they are set, the
real servers are used. Only the standard library may be imported at the top.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LOCAL = ROOT / ".local"
VENV = Path(os.environ.get("MEDIA_ANALYSIS_VENV", ROOT / ".venv"))
VENV_PYTHON = VENV / "bin" / "python"
REQUIREMENTS = {
    "run": ["requirements.txt", "requirements-embedded.txt"],
    "manage": ["requirements.txt", "requirements-embedded.txt"],
    "test": ["requirements.txt", "requirements-embedded.txt", "requirements-dev.txt"],
    "client": ["requirements.txt", "requirements-embedded.txt", "requirements-dev.txt"],
}
INSIDE_FLAG = "MEDIA_ANALYSIS_DEV_INSIDE_VENV"
# How long `run` waits for its children after Ctrl-C / SIGTERM before killing them.
STOP_GRACE_SECONDS = 60


def log(message: str) -> None:
    print(f"[dev] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------- phase 1: the venv
def ensure_venv(command: str) -> None:
    if not VENV_PYTHON.exists():
        log(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    files = [ROOT / name for name in REQUIREMENTS[command]]
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    stamp = VENV / f".installed-{command}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    log("installing " + ", ".join(REQUIREMENTS[command]))
    pip = [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    for f in files:
        pip += ["-r", str(f)]
    subprocess.run(pip, check=True)
    use_headless_opencv()
    stamp.write_text(digest)


def use_headless_opencv() -> None:
    """rapidocr-onnxruntime declares opencv-python, whose cv2 links libGL, which
    servers and slim images lack; both wheels install the same ``cv2`` package, so
    the GUI one is removed and the headless one (pinned in requirements.txt) put
    back over it."""
    pip = [str(VENV_PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    shown = subprocess.run([*pip, "show", "opencv-python"], capture_output=True, check=False)
    if shown.returncode != 0:
        return  # not installed: nothing to swap
    pinned = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith("opencv-python-headless==")
    ]
    subprocess.run([*pip, "uninstall", "-y", "opencv-python"], check=True)
    subprocess.run([*pip, "install", "--no-deps", "--force-reinstall", *pinned], check=True)


# ------------------------------------------------- phase 2: inside the venv
def local_defaults() -> None:
    """Settings for a service on this machine only: plain HTTP on 127.0.0.1."""
    LOCAL.mkdir(exist_ok=True)
    key_file = LOCAL / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    # Encrypts webhook secrets at rest (a Fernet key: 32 url-safe base64 bytes).
    webhook_key_file = LOCAL / "webhook_key"
    if not webhook_key_file.exists():
        webhook_key_file.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        webhook_key_file.chmod(0o600)
    defaults = {
        "DJANGO_SETTINGS_MODULE": "media_analysis.settings",
        "SECRET_KEY": key_file.read_text().strip(),
        "WEBHOOK_ENCRYPTION_KEY": webhook_key_file.read_text().strip(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "MEDIA_ANALYSIS_STORAGE_ROOT": str(LOCAL / "storage"),
        "LOG_FORMAT": "text",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)


def start_embedded_servers(persistent_redis: bool) -> list:
    """Start what is missing; return the handles to keep alive."""
    sys.path.insert(0, str(ROOT))
    from media_analysis.embedded import RedisServer, start_postgres

    handles = []
    if not os.environ.get("DATABASE_URL"):
        started = time.monotonic()
        server, url = start_postgres(LOCAL / "pgdata")
        os.environ["DATABASE_URL"] = url
        handles.append(server)
        log(f"embedded PostgreSQL ready in {time.monotonic() - started:.1f}s ({url})")
    if not os.environ.get("REDIS_URL"):
        folder = "redis" if persistent_redis else "redis-test"
        redis = RedisServer(LOCAL / folder, persistent=persistent_redis).start()
        os.environ["REDIS_URL"] = redis.url
        handles.append(redis)
        log(f"embedded Redis ready ({redis.url})")
    return handles


def stop_embedded_servers(handles: list) -> None:
    for handle in reversed(handles):
        if hasattr(handle, "stop"):
            handle.stop()
        else:
            handle.cleanup()


def manage(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=check, cwd=ROOT)


def run_service() -> int:
    manage("migrate", "--noinput")
    manage("collectstatic", "--noinput", "-v", "0")
    Path(os.environ["MEDIA_ANALYSIS_STORAGE_ROOT"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GUNICORN_BIND", "127.0.0.1:8000")
    celery = [sys.executable, "-m", "celery", "-A", "media_analysis"]
    # The plain worker consumes every queue; CELERY_WORKER_QUEUES narrows it (-Q).
    queues = os.environ.get("CELERY_WORKER_QUEUES", "").strip()
    processes = {
        "web": subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "media_analysis.wsgi"],
            cwd=ROOT,
            start_new_session=True,
        ),
        "worker": subprocess.Popen(
            [*celery, "worker", "-l", "info", *(["-Q", queues] if queues else [])],
            cwd=ROOT,
            start_new_session=True,
        ),
        "beat": subprocess.Popen(
            [*celery, "beat", "-l", "info", "--schedule", str(LOCAL / "celerybeat-schedule")],
            cwd=ROOT,
            start_new_session=True,
        ),
    }
    log(f"serving on http://{os.environ['GUNICORN_BIND']} (admin at /admin/); Ctrl-C stops")
    return supervise(processes)


def supervise(processes: dict[str, subprocess.Popen]) -> int:
    """Wait until a signal or until one process exits; then stop them all."""
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                log(f"{name} exited with {process.returncode}; stopping the others")
                exit_code = process.returncode or 1
                stopping = True
                break
        time.sleep(0.5)
    # SIGTERM to each main process (a Celery worker then lets its running tasks
    # finish); whatever is left after the grace period goes with its whole group,
    # pool children included. A killed analysis is taken over at the next start.
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, process in processes.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop within {STOP_GRACE_SECONDS} s; killing it")
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return exit_code


# Debian packages some tests drive as real programs: the staff console's browser
# test (headless Chromium) and the compose test (`docker-compose config` renders
# docker-compose.yml exactly as Compose would).
TEST_SYSTEM_PACKAGES = {"chromium": "chromium", "docker-compose": "docker-compose"}


def ensure_system_packages() -> None:
    """Install the missing ones when we may (root with apt), else say what fails."""
    missing = [pkg for command, pkg in TEST_SYSTEM_PACKAGES.items() if not shutil.which(command)]
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing Debian's {', '.join(missing)} for the tests (apt-get)")
        quiet = {"stdout": subprocess.DEVNULL}
        subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=False, env=env, **quiet)
    for command, pkg in TEST_SYSTEM_PACKAGES.items():
        if not shutil.which(command):
            log(f"{command} is not installed: tests that need it will fail (apt-get install {pkg})")


def run_tests(pytest_args: list[str]) -> int:
    ensure_system_packages()
    return subprocess.run([sys.executable, "-m", "pytest", *pytest_args], cwd=ROOT).returncode


def inside(command: str, args: list[str]) -> int:
    local_defaults()
    handles = start_embedded_servers(persistent_redis=command == "run")
    try:
        if command == "run":
            return run_service()
        if command == "test":
            return run_tests(args)
        if command == "client":
            return subprocess.run([sys.executable, "clients/generate.py"], cwd=ROOT).returncode
        return manage(*args, check=False).returncode
    finally:
        stop_embedded_servers(handles)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in REQUIREMENTS:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = sys.argv[1], sys.argv[2:]
    if os.environ.get(INSIDE_FLAG) != "1":
        ensure_venv(command)
        env = {**os.environ, INSIDE_FLAG: "1"}
        os.execve(VENV_PYTHON, [str(VENV_PYTHON), __file__, command, *args], env)
    return inside(command, args)


if __name__ == "__main__":
    sys.exit(main())
