"""The whole story on real processes: a service (gunicorn + Celery worker) analyses
a video, an image and a document; a backup is taken; the database is dropped and
the storage wiped; the set is restored onto the "fresh machine"; and a new
gunicorn answers with the same status, history, results, audit trail and contact
sheet bytes. The restored service then keeps working (a new analysis, a new token,
the audit trail still immutable, migrations recorded as applied)."""

from __future__ import annotations

import os
import shutil
import time

import httpx
import psycopg
import pytest

from media_analysis.embedded import RedisServer, free_port
from tests.backup.conftest import env_for, manage, query, table_names
from tests.conftest import server_connection
from tests.operations.stack import VENV_BIN, Stack, submit_upload, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def service(tmp_path, databases):
    """An empty service of its own: a database (migrated), a storage root and a Redis."""
    database = databases.create("machine")
    storage = tmp_path / "storage"
    redis = RedisServer(tmp_path / "redis", port=free_port()).start()
    env = {
        **os.environ,
        **env_for(database, storage),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "REDIS_URL": redis.url,
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "4",
        "API_THROTTLE_WRITE_RATE": "1000/min",
        "API_THROTTLE_READ_RATE": "10000/min",
    }
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    running = Stack(folder=tmp_path, env=env, redis=redis)
    running.database = database
    running.storage = storage
    yield running
    running.stop()


def wait_completed(api: httpx.Client, request_id: str) -> dict:
    def done():
        body = api.get(f"/api/media/status/{request_id}").json()
        return body if body["status"] in ("completed", "failed") else None

    body = wait_until(done, 120, f"request {request_id} to finish", every=0.5)
    assert body["status"] == "completed", body
    return body


def snapshot(api: httpx.Client, ids: dict[str, str]) -> dict:
    """Everything a caller can see, with this server's address taken out."""
    base = str(api.base_url).rstrip("/")

    def text(path: str) -> str:
        response = api.get(path)
        assert response.status_code == 200, (path, response.text)
        return response.text.replace(base, "BASE")

    seen = {"history": text("/api/media/history?page_size=100")}
    for kind, request_id in ids.items():
        seen[f"status:{kind}"] = text(f"/api/media/status/{request_id}")
        seen[f"audit:{kind}"] = text(f"/api/media/{request_id}/audit")
    sheet = api.get(f"/api/media/{ids['video']}/contact-sheet")
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "image/jpeg"
    seen["contact-sheet"] = sheet.content
    return seen


def test_backup_drop_everything_restore_and_the_api_answers_the_same(service, media, tmp_path):
    service.start_web()
    worker = service.start_worker()
    api = service.api()
    ids = {}
    for kind, path in media.items():
        response = submit_upload(api, path)
        assert response.status_code == 202, response.text
        ids[kind] = response.json()["id"]
    for request_id in ids.values():
        wait_completed(api, request_id)
    before = snapshot(api, ids)
    audit = api.get(f"/api/media/{ids['video']}/audit").json()["entries"]
    assert {entry["performed_by"] for entry in audit} >= {"alice"}
    assert {entry["table_name"] for entry in audit} >= {
        "media_analysis_requests", "media_analysis_results", "media_files", "contact_sheets"
    }  # fmt: skip
    worker.terminate()
    for process in service.processes:
        process.terminate()

    set_dir = tmp_path / "backups" / "before-the-fire"
    started = time.monotonic()
    made = manage("backup", "--output", str(set_dir), env=service.env)
    backup_seconds = time.monotonic() - started
    assert made.returncode == 0, made.stdout + made.stderr

    # The fire: the database server and the storage volume are gone.
    with server_connection() as conn:
        conn.execute(f'DROP DATABASE "{service.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{service.database}"')
    shutil.rmtree(service.storage)
    assert table_names(service.database) == set()
    service.redis.stop()
    service.redis.start()  # a new, empty Redis: nothing cached survives

    started = time.monotonic()
    restored = manage("restore", str(set_dir), env=service.env)
    restore_seconds = time.monotonic() - started
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "row counts of every table match the manifest" in restored.stdout
    print(f"\nbackup {backup_seconds:.1f} s, restore {restore_seconds:.1f} s:\n{restored.stdout}")

    assert manage("migrate", "--check", env=service.env).returncode == 0
    service.start_web()
    after = snapshot(api_for(service, api), ids)
    assert after.keys() == before.keys()
    for key in before:
        assert after[key] == before[key], key

    # The restored audit trail refuses changes as the original did.
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        query(service.database, "UPDATE audit_log SET performed_by = 'mallory'")
    actors = {row[0] for row in query(service.database, "SELECT performed_by FROM audit_log")}
    assert {"alice", "system:backup", "system:restore"} <= actors

    # And it keeps working: a new token, a new analysis (sequences, enum types, FKs).
    service.start_worker()
    token = manage("create_api_token", "bob", env=service.env).stdout.strip()
    second = httpx.Client(
        base_url=service.url, headers={"Authorization": f"Token {token}"}, timeout=30
    )
    new_id = submit_upload(second, media["image"]).json()["id"]
    assert wait_completed(second, new_id)["status"] == "completed"


def api_for(service: Stack, previous: httpx.Client) -> httpx.Client:
    """The same caller's token against the new server."""
    return httpx.Client(base_url=service.url, headers=dict(previous.headers), timeout=30)
