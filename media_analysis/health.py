"""Liveness and readiness endpoints.

``/health`` answers as long as the process can serve a request: it touches no
dependency, so a slow database never gets a healthy container restarted.
``/health/ready`` checks each dependency and says which one is unwell, within
``HEALTH_READY_TIMEOUT`` seconds whatever is down or hangs: the checks run
concurrently under one deadline, and one answer serves every probe for
``HEALTH_READY_CACHE_SECONDS`` (see ``health_runner``).
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.dispatch import receiver
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from media_analysis.celery import app
from media_analysis.health_runner import Check, CheckRunner, SingleFlight, error
from media_analysis.resilience import breaker_states, database_breaker_open, redis_available

# A good migrations check is trusted this long: it loads every migration module.
MIGRATIONS_OK_SECONDS = 60.0


@never_cache
@require_GET
def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> dict:
    ping_database(settings.HEALTH_DATABASE_TIMEOUT)
    return {"status": "ok"}


def ping_database(timeout: float) -> None:
    """``SELECT 1`` on a connection obtained within ``timeout`` seconds.

    Not through the circuit breaker: its state lives in Redis, and a Redis that
    hangs must not make PostgreSQL look down. The breaker's verdict is added by
    ``evaluate`` from the ``breakers`` check instead.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.wrap_database_errors:  # psycopg errors as Django's
        pool = connection.pool
        if pool is not None:
            pool.open()  # as Django does on first use; does not wait
            # Not DB_POOL_TIMEOUT (30 s): the pool keeps reconnecting without us.
            with pool.connection(timeout=timeout) as conn:
                conn.execute("SELECT 1")
        else:
            params = connection.get_connection_params()
            # libpq counts whole seconds, and at least 2.
            params["connect_timeout"] = max(2, math.ceil(timeout))
            with connection.Database.connect(**params) as conn:
                conn.execute("SELECT 1")


_migrations_ok_at = 0.0


def check_migrations() -> dict:
    global _migrations_ok_at
    if _migrations_ok_at and time.monotonic() - _migrations_ok_at < MIGRATIONS_OK_SECONDS:
        return {"status": "ok", "cached": True}
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        return {"status": "error", "detail": f"{len(pending)} migration(s) not applied"}
    _migrations_ok_at = time.monotonic()
    return {"status": "ok"}


def check_cache() -> dict:
    if not redis_available():
        return {"status": "error", "detail": "Redis unreachable (or its circuit is open)"}
    return {"status": "ok"}


def check_broker() -> dict:
    with app.connection_for_write() as conn:
        # One quick second try; the deadline bounds it anyway.
        conn.ensure_connection(max_retries=1, interval_start=0.1, timeout=2)
    return {"status": "ok"}


def check_disk() -> dict:
    # The thresholds and how "used" is counted live in storage_app.disk.
    from storage_app.disk import readiness_check

    return readiness_check()


def check_breakers() -> dict:
    """Not a component: the breakers' states, read concurrently with the checks
    because the database breaker's state is read from Redis."""
    return {"status": "ok", "states": breaker_states(), "database_open": database_breaker_open()}


READINESS_CHECKS = (
    Check("database", check_database),
    Check("migrations", check_migrations, after="database"),
    Check("cache", check_cache),
    Check("broker", check_broker),
    Check("disk", check_disk),
    Check("breakers", check_breakers),
)


def check_backup() -> dict:
    # "ok" or "stale" (newest good set older than two nightly intervals).
    from storage_app.backup.status import readiness_check

    return readiness_check()


def readiness_checks() -> tuple[Check, ...]:
    """The checks, plus ``backup`` when BACKUP_DIR schedules nightly sets."""
    if settings.BACKUP_DIR:
        return (*READINESS_CHECKS, Check("backup", check_backup, after="database"))
    return READINESS_CHECKS


# Without these the instance cannot do its work: "offline" (503). Any other
# component failing leaves it "degraded" but serving (200): with Redis down the API
# answers from PostgreSQL, with the broker down submissions wait for beat's requeue.
ESSENTIAL_COMPONENTS = ("database", "migrations", "disk")
# Reported but never counted in the level: a stale backup does not stop the service.
ADVISORY_COMPONENTS = ("backup",)


def service_level(components: dict[str, dict]) -> str:
    """``available``, ``degraded`` or ``offline``."""
    if any(
        components[name]["status"] == "error" for name in ESSENTIAL_COMPONENTS if name in components
    ):
        return "offline"
    if any(
        c["status"] != "ok" for name, c in components.items() if name not in ADVISORY_COMPONENTS
    ):
        return "degraded"
    return "available"


_runner = CheckRunner()
_answers: SingleFlight[dict[str, Any]] = SingleFlight()


def run_checks() -> tuple[dict[str, dict], dict[str, str]]:
    """Every component's result and the breakers' states, within HEALTH_READY_TIMEOUT."""
    components = _runner.run(readiness_checks(), settings.HEALTH_READY_TIMEOUT)
    breakers = components.pop("breakers")
    database = components["database"]
    if breakers.get("database_open") and database["status"] == "ok":
        # Requests are refused while the breaker is open, so this instance is not
        # ready even though a ping got through.
        components["database"] = {
            **error("circuit breaker open: PostgreSQL failed repeatedly"),
            "duration_ms": database["duration_ms"],
        }
    states = breakers.get("states") or {"database": "unknown", "redis": "unknown"}
    return components, states


def evaluate() -> dict[str, Any]:
    components, breakers = run_checks()
    level = service_level(components)
    return {
        "status": "unavailable" if level == "offline" else "ready",
        "level": level,
        "components": components,
        "breakers": breakers,
    }


@never_cache
@require_GET
def readiness(request: HttpRequest) -> JsonResponse:
    timeout = settings.HEALTH_READY_TIMEOUT
    answer = _answers.get(
        evaluate, max_age=settings.HEALTH_READY_CACHE_SECONDS, wait=timeout + 0.25
    )
    body = {
        **answer.value,
        "cached": answer.cached,
        "age_ms": round(answer.age * 1000, 1),
    }
    return JsonResponse(body, status=200 if body["status"] == "ready" else 503)


def clear_readiness_cache() -> None:
    global _migrations_ok_at
    _answers.clear()
    _migrations_ok_at = 0.0


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    # Tests change storage, breaker and cache settings between probes.
    clear_readiness_cache()
