"""The whole service under real faults: gunicorn on a PostgreSQL and a Redis of this
test's own (pgserver and redis-server from their wheels), each stopped and started
again mid-run. Never the machine's servers.

- PostgreSQL down: cached status and history still answer (``X-Data-Source:
  cache``); writes answer 503 with Retry-After and a clear message, failing fast
  once the breaker is open; readiness says "offline". Back up: the service
  recovers by itself, and every request acknowledged with 202 is in PostgreSQL.
- Redis down: everything answers from PostgreSQL (submissions too: the task is
  queued later by beat); readiness says "degraded". Back up: the cache is used again.
"""

from __future__ import annotations

import time
import uuid

import httpx
import psycopg
import pytest

from tests.api.servers import start_gunicorn
from tests.conftest import run_manage, wait_until

pytestmark = pytest.mark.slow

BREAKER_RESET_SECONDS = 5


@pytest.fixture
def service(tmp_path, storage_root, own_postgres, own_redis):
    env = {
        "DATABASE_URL": own_postgres.url,
        "REDIS_URL": own_redis.url,
        "MEDIA_ANALYSIS_STORAGE_ROOT": str(storage_root),
        "MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS": "true",
        "DB_POOL_TIMEOUT": "2",
        "DB_CONNECT_TIMEOUT": "2",
        "REDIS_SOCKET_TIMEOUT": "1",
        "DB_BREAKER_RESET_TIMEOUT": str(BREAKER_RESET_SECONDS),
        "REDIS_BREAKER_RESET_TIMEOUT": "2",
        "API_THROTTLE_READ_RATE": "100000/min",
        "API_THROTTLE_WRITE_RATE": "100000/min",
    }
    run_manage("migrate", "-v", "0", env=env)
    token = run_manage("create_api_token", "alice", env=env).stdout.strip()
    server = start_gunicorn(tmp_path, env, workers=2, threads=4)
    client = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Token {token}"}, timeout=30
    )
    yield client, server
    client.close()
    server.stop()


def submit(client: httpx.Client) -> httpx.Response:
    return client.post(
        "/api/media/analyze", json={"media_url": "http://127.0.0.1:9/v.mp4", "prompt": "p"}
    )


def rows_in_postgres(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {str(row[0]) for row in conn.execute("SELECT id FROM media_analysis_requests")}


def test_postgresql_down_then_back(service, own_postgres):
    client, server = service
    acknowledged = []
    for _ in range(4):
        response = submit(client)
        assert response.status_code == 202, response.text
        acknowledged.append(response.json()["id"])
    for request_id in acknowledged:  # warm the cache
        client.get(f"/api/media/status/{request_id}")
    assert client.get(f"/api/media/status/{acknowledged[0]}").headers["X-Data-Source"] == "cache"
    client.get("/api/media/history")

    own_postgres.stop()

    for request_id in acknowledged:
        response = client.get(f"/api/media/status/{request_id}")
        assert response.status_code == 200
        assert response.headers["X-Data-Source"] == "cache"
        assert response.json()["id"] == request_id
    history = client.get("/api/media/history")
    assert history.status_code == 200 and history.headers["X-Data-Source"] == "cache"
    assert {item["id"] for item in history.json()["results"]} == set(acknowledged)

    uncached = client.get(f"/api/media/status/{uuid.uuid4()}")
    assert uncached.status_code == 503 and int(uncached.headers["Retry-After"]) >= 1

    timings = []
    for _ in range(8):
        started = time.monotonic()
        response = submit(client)
        timings.append(time.monotonic() - started)
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) >= 1
        error = response.json()["error"]
        assert error["code"] == "database_unavailable" and "nothing was changed" in error["message"]
    assert max(timings[-3:]) < 0.5, timings  # the breaker is open: no wait for the pool

    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["level"] == "offline"
    assert ready.json()["components"]["database"]["status"] == "error"

    own_postgres.start()

    def accepted():
        response = submit(client)
        return response if response.status_code == 202 else None

    # Half-open after the reset timeout, closed after three good calls.
    response = wait_until(accepted, BREAKER_RESET_SECONDS + 25, "writes accepted again")
    acknowledged.append(response.json()["id"])
    wait_until(lambda: client.get("/health/ready").status_code == 200, 30, "ready again")
    for request_id in acknowledged:
        assert client.get(f"/api/media/status/{request_id}").status_code == 200
    assert rows_in_postgres(own_postgres.url) == set(acknowledged)  # all kept, no stray rows
    assert "Internal Server Error" not in server.log()


def test_redis_down_then_back(service, own_redis, own_postgres):
    client, server = service
    first = submit(client).json()["id"]
    client.get(f"/api/media/status/{first}")
    assert client.get(f"/api/media/status/{first}").headers["X-Data-Source"] == "cache"

    own_redis.stop()

    acknowledged = [first]
    for _ in range(6):
        response = client.get(f"/api/media/status/{first}")
        assert response.status_code == 200 and response.headers["X-Data-Source"] == "database"
    for _ in range(3):
        response = submit(client)
        assert response.status_code == 202, response.text
        acknowledged.append(response.json()["id"])
    assert client.get("/api/media/history").json()["count"] == len(acknowledged)
    assert client.post(f"/api/media/{acknowledged[-1]}/cancel").status_code == 200
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["level"] == "degraded"

    own_redis.start()

    def cached_again():
        client.get(f"/api/media/status/{first}")
        return client.get(f"/api/media/status/{first}").headers["X-Data-Source"] == "cache"

    wait_until(cached_again, 30, "the cache used again")
    wait_until(
        lambda: client.get("/health/ready").json()["level"] == "available", 30, "available again"
    )
    assert rows_in_postgres(own_postgres.url) == set(acknowledged)
    assert client.get(f"/api/media/status/{acknowledged[-1]}").json()["status"] == "cancelled"
    assert "Internal Server Error" not in server.log()
