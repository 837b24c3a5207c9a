"""Liveness and readiness endpoints.

``/health`` answers as long as the process can serve a request: it touches no
dependency, so a slow database never gets a healthy container restarted.
``/health/ready`` checks each dependency and says which one is unwell.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> dict:
    # Through the breaker: an open circuit answers at once, and a good check here
    # counts towards closing it again.
    from media_analysis.resilience import call_database

    def ping() -> None:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")

    call_database(ping)
    return {"status": "ok"}


def check_migrations() -> dict:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        return {"status": "error", "detail": f"{len(pending)} migration(s) not applied"}
    return {"status": "ok"}


def check_cache() -> dict:
    from media_analysis.resilience import redis_available

    if not redis_available():
        return {"status": "error", "detail": "Redis unreachable (or its circuit is open)"}
    return {"status": "ok"}


def check_broker() -> dict:
    from media_analysis.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return {"status": "ok"}


def check_disk() -> dict:
    # The thresholds and how "used" is counted live in storage_app.disk.
    from storage_app.disk import readiness_check

    return readiness_check()


READINESS_CHECKS: dict[str, Callable[[], dict]] = {
    "database": check_database,
    "migrations": check_migrations,
    "cache": check_cache,
    "broker": check_broker,
    "disk": check_disk,
}


def run_checks() -> dict[str, dict]:
    results = {}
    for name, check in READINESS_CHECKS.items():
        started = time.monotonic()
        try:
            result = check()
        except Exception as exc:  # each failure is reported, none stops the others
            result = {"status": "error", "detail": f"{type(exc).__name__}: {exc}"[:300]}
        result["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        results[name] = result
    return results


# Without these the instance cannot do its work: "offline" (503). Any other
# component failing leaves it "degraded" but serving (200): with Redis down the API
# answers from PostgreSQL, with the broker down submissions wait for beat's requeue.
ESSENTIAL_COMPONENTS = ("database", "migrations", "disk")


def service_level(components: dict[str, dict]) -> str:
    """``available``, ``degraded`` or ``offline``."""
    if any(
        components[name]["status"] == "error" for name in ESSENTIAL_COMPONENTS if name in components
    ):
        return "offline"
    if any(c["status"] != "ok" for c in components.values()):
        return "degraded"
    return "available"


@never_cache
@require_GET
def readiness(request: HttpRequest) -> JsonResponse:
    from media_analysis.resilience import breaker_states

    components = run_checks()
    level = service_level(components)
    ready = level != "offline"
    return JsonResponse(
        {
            "status": "ready" if ready else "unavailable",
            "level": level,
            "components": components,
            "breakers": breaker_states(),
        },
        status=200 if ready else 503,
    )
