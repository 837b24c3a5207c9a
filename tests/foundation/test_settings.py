"""Settings as the running process sees them, and the production guard rails."""

from __future__ import annotations

import secrets

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import run_manage

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "media-analysis.example.org",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
}


def test_pool_is_sized_from_the_plan_by_default():
    db = settings.DATABASES["default"]
    assert db["CONN_HEALTH_CHECKS"] is True
    assert db["OPTIONS"]["connect_timeout"] == 10
    assert "statement_timeout=60000" in db["OPTIONS"]["options"]
    if settings.DB_POOL_ENABLED:
        assert db["CONN_MAX_AGE"] == 0
        assert db["OPTIONS"]["pool"] == {
            "min_size": 5,
            "max_size": 50,
            "timeout": 30,
            "max_lifetime": 3600,
            "max_idle": 600,
        }


@pytest.mark.django_db
def test_statement_timeout_reaches_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "1min"
        cursor.execute("SELECT current_setting('application_name')")
        assert cursor.fetchone()[0] == "media-analysis"
        # Server-side keepalives, so a vanished worker's run lock is freed in time
        # (PostgreSQL shows 0 on a Unix socket, where they do not apply).
        assert "-c tcp_keepalives_idle=30" in connection.settings_dict["OPTIONS"]["options"]
        if not (connection.settings_dict["HOST"] or "/").startswith("/"):
            cursor.execute("SHOW tcp_keepalives_idle")
            assert cursor.fetchone()[0] == "30"


def test_pool_settings_come_from_the_environment():
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.DATABASES['default']['OPTIONS']['pool'])",
        env={
            "DB_POOL": "true",
            "DB_POOL_MIN_SIZE": "2",
            "DB_POOL_MAX_SIZE": "7",
            "DB_POOL_TIMEOUT": "3",
        },
    )
    assert "'min_size': 2" in result.stdout
    assert "'max_size': 7" in result.stdout
    assert "'timeout': 3" in result.stdout


@pytest.mark.parametrize(("value", "shown"), [(None, "False"), ("true", "True")])
def test_server_side_cursors_can_be_turned_off_for_pgbouncer(value, shown):
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings as s;"
        " print(s.DATABASES['default']['DISABLE_SERVER_SIDE_CURSORS'])",
        env={} if value is None else {"DB_DISABLE_SERVER_SIDE_CURSORS": value},
    )
    assert result.stdout.strip().splitlines()[-1] == shown


def test_a_junk_setting_stops_start_up_with_its_name():
    result = run_manage("check", env={"DB_POOL_MAX_SIZE": "lots"}, check=False)
    assert result.returncode != 0
    assert "DB_POOL_MAX_SIZE='lots' is not an integer" in result.stderr


def test_production_refuses_the_default_secret_key():
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = run_manage("check", env=env, check=False)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_refuses_a_short_secret_key():
    result = run_manage("check", env={**PRODUCTION_ENV, "SECRET_KEY": "short"}, check=False)
    assert result.returncode != 0
    assert "at least 50 characters" in result.stderr


def test_check_deploy_passes_under_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert "no issues" in result.stdout


def test_celery_is_configured_for_long_media_jobs():
    from media_analysis.celery import app

    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    # Unrouted by the outbox (which names the queue): the heavy pool, which runs any media.
    assert conf.task_routes["analysis.tasks.analyse_request"] == {"queue": "media.heavy"}
    assert conf.task_routes["analysis.tasks.*"] == {"queue": "maintenance"}
    # Declared queues: a worker started without -Q consumes every one of them.
    routed = {route["queue"] for route in conf.task_routes.values()} | {"media.light", "media"}
    assert routed | {conf.task_default_queue} <= {queue.name for queue in conf.task_queues}
    assert conf.broker_url.startswith(("redis://", "redis+socket://", "rediss://"))


@pytest.mark.parametrize(
    ("variable", "value"), [("CONTACT_SHEET_GRID", "0x9"), ("CONTACT_SHEET_RESOLUTION", "big")]
)
def test_a_junk_contact_sheet_default_stops_start_up(variable, value):
    result = run_manage("check", env={variable: value}, check=False)
    assert result.returncode != 0
    assert variable in result.stderr


@pytest.mark.parametrize(
    ("env", "names"),
    [
        (
            {"DB_POOL_MIN_SIZE": "8", "DB_POOL_MAX_SIZE": "4"},
            ("DB_POOL_MIN_SIZE", "DB_POOL_MAX_SIZE"),
        ),
        (
            {"CELERY_TASK_SOFT_TIME_LIMIT": "600", "CELERY_TASK_TIME_LIMIT": "600"},
            ("CELERY_TASK_SOFT_TIME_LIMIT", "CELERY_TASK_TIME_LIMIT"),
        ),
        (
            {"CELERY_TASK_TIME_LIMIT": "8000"},
            ("CELERY_TASK_TIME_LIMIT", "CELERY_VISIBILITY_TIMEOUT"),
        ),
        (
            {"STORAGE_DISK_WARNING_PERCENT": "95"},
            ("STORAGE_DISK_WARNING_PERCENT", "STORAGE_DISK_CRITICAL_PERCENT"),
        ),
        (
            {"MEDIA_ANALYSIS_DOWNLOAD_DEADLINE": "2000"},
            ("MEDIA_ANALYSIS_DOWNLOAD_DEADLINE", "CELERY_TASK_SOFT_TIME_LIMIT"),
        ),
        (
            {"ANALYSIS_HEARTBEAT_SECONDS": "20"},
            ("ANALYSIS_HEARTBEAT_SECONDS", "ANALYSIS_LEASE_SECONDS"),
        ),
    ],
)
def test_contradictory_settings_stop_start_up_naming_both(env, names):
    result = run_manage("check", env=env, check=False)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in message
    for name in names:
        assert name in message


def test_a_lowered_pool_ceiling_alone_is_not_a_contradiction():
    # docker-compose sets DB_POOL_MAX_SIZE=4 only: the floor follows it.
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.DB_POOL_OPTIONS['min_size'])",
        env={"DB_POOL_MAX_SIZE": "4"},
    )
    assert result.stdout.strip().splitlines()[-1] == "4"


def test_the_retired_stuck_timer_is_refused_with_its_replacement():
    result = run_manage("check", env={"MEDIA_ANALYSIS_STUCK_AFTER_SECONDS": "3600"}, check=False)
    assert result.returncode != 0
    assert "ANALYSIS_LEASE_SECONDS" in result.stderr


@pytest.mark.parametrize("value", ["english; DROP TABLE x", "pg_catalog.english", "en-GB"])
def test_a_search_language_that_is_no_plain_name_stops_start_up(value):
    result = run_manage("check", env={"HISTORY_SEARCH_LANGUAGE": value}, check=False)
    assert result.returncode != 0
    assert "HISTORY_SEARCH_LANGUAGE" in result.stderr
