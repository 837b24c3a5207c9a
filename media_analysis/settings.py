"""Django settings for media-analysis.

Everything comes from the environment through the typed helpers in ``env.py``;
each variable is documented in ``.env.example``. Sections are grouped by concern.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from analysis.options import BUILTIN, PROVIDER_NAMES, parse_grid, parse_resolution
from media_analysis.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_str,
    parse_database_url,
    redis_url_for_celery,
    require_at_most,
    require_below,
    running_celery,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------- core
DEBUG = env_bool("DEBUG", False)

# A fixed, well-known key that only development may use: production refuses it.
INSECURE_DEFAULT_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", INSECURE_DEFAULT_SECRET_KEY)
if not DEBUG and SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set a long random SECRET_KEY in the environment "
        "(or DEBUG=true for local development only)."
    )
if not DEBUG and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long in production")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "analysis",
    "storage_app",
    "audit",
    # After "audit": our auditlogflush command shadows auditlog's (see audit/).
    "auditlog",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # The request context first, so every later layer (and log line) has its ids.
    # Audit entries read the user lazily, so it need not follow authentication.
    "media_analysis.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "media_analysis.urls"
WSGI_APPLICATION = "media_analysis.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ----------------------------------------------------------------------- database
# PostgreSQL only. The pool is psycopg_pool's, driven by Django (5.1+). Sizing and
# how it multiplies across processes: see docs/database-pool.md.
_database_url = env_str("DATABASE_URL")
if _database_url is None:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. `python3 dev.py run` / `python3 dev.py test` start an "
        "embedded PostgreSQL for you; otherwise point DATABASE_URL at a PostgreSQL server."
    )
_db = parse_database_url(_database_url)

# Celery's Django fixup closes the pool before and after every task, so worker and
# beat processes use plain connections unless DB_POOL says otherwise.
DB_POOL_ENABLED = env_bool("DB_POOL", not running_celery())
_pool_max_size = env_int("DB_POOL_MAX_SIZE", 50, minimum=1, maximum=1000)
# Unset, the floor follows a lowered ceiling (DB_POOL_MAX_SIZE=4 alone means 4..4).
_pool_min_size = env_int("DB_POOL_MIN_SIZE", min(5, _pool_max_size), minimum=0, maximum=1000)
require_at_most("DB_POOL_MIN_SIZE", _pool_min_size, "DB_POOL_MAX_SIZE", _pool_max_size)
DB_POOL_OPTIONS = {
    "min_size": _pool_min_size,
    "max_size": _pool_max_size,
    "timeout": env_int("DB_POOL_TIMEOUT", 30, minimum=1, maximum=600),
    "max_lifetime": env_int("DB_POOL_MAX_LIFETIME", 3600, minimum=60),
    "max_idle": env_int("DB_POOL_MAX_IDLE", 600, minimum=10),
}
DB_STATEMENT_TIMEOUT_MS = env_int("DB_STATEMENT_TIMEOUT", 60, minimum=1, maximum=86400) * 1000

_db_options: dict = {
    "connect_timeout": env_int("DB_CONNECT_TIMEOUT", 10, minimum=1, maximum=300),
    "options": f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}",
    "application_name": env_str("DB_APPLICATION_NAME", "media-analysis"),
    **_db.pop("EXTRA_OPTIONS"),
}
if DB_POOL_ENABLED:
    _db_options["pool"] = DB_POOL_OPTIONS

# Retries of connection establishment, never of a query (media_analysis/db_backend):
# workers, beat and management commands sleep DELAY, DELAY x BACKOFF, ... between
# 1 + RETRIES attempts (0.5 s, 1 s, 2 s), then raise. The web never retries: its
# entry point, media_analysis/wsgi.py, turns this off (it fails fast behind the breaker).
DB_CONNECT_RETRIES = env_int("DB_CONNECT_RETRIES", 3, minimum=0, maximum=10)
DB_CONNECT_RETRY_DELAY = env_float("DB_CONNECT_RETRY_DELAY", 0.5, minimum=0, maximum=60)
DB_CONNECT_RETRY_BACKOFF = env_float("DB_CONNECT_RETRY_BACKOFF", 2.0, minimum=1, maximum=10)

DATABASES = {
    "default": {
        # django-prometheus's backend plus connection retries (media_analysis/db_backend).
        "ENGINE": "media_analysis.db_backend",
        **_db,
        # With a pool, connections are reused by the pool, not by Django (must be 0).
        "CONN_MAX_AGE": 0 if DB_POOL_ENABLED else env_int("DB_CONN_MAX_AGE", 60, minimum=0),
        # Checked on checkout: the plan's "pool_pre_ping".
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": _db_options,
        "TEST": {"NAME": env_str("DB_TEST_NAME")},
    }
}

# -------------------------------------------------------------------------- cache
_redis_url = env_str("REDIS_URL")
if _redis_url is None:
    raise ImproperlyConfigured(
        "REDIS_URL is not set. `python3 dev.py` starts an embedded Redis for you; "
        "otherwise point REDIS_URL at a Redis server (redis://host:6379/0)."
    )
REDIS_URL = _redis_url
REDIS_SOCKET_TIMEOUT = env_int("REDIS_SOCKET_TIMEOUT", 5, minimum=1, maximum=60)

CACHES = {
    "default": {
        "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "media-analysis"),
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "CONNECTION_POOL_KWARGS": {
                "max_connections": env_int("REDIS_MAX_CONNECTIONS", 50, minimum=1)
            },
        },
    }
}

# ------------------------------------------------------------------------- celery
# Read by media_analysis/celery.py with namespace "CELERY".
CELERY_BROKER_URL = redis_url_for_celery(env_str("CELERY_BROKER_URL", REDIS_URL))
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True  # outcomes live in PostgreSQL, not in a result backend
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 1800, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 1500, minimum=5)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # An unacked message is redelivered after this; it must exceed the longest task.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 7200, minimum=60),
}
require_below(
    "CELERY_TASK_SOFT_TIME_LIMIT", CELERY_TASK_SOFT_TIME_LIMIT,
    "CELERY_TASK_TIME_LIMIT", CELERY_TASK_TIME_LIMIT,
)  # fmt: skip
require_below(
    "CELERY_TASK_TIME_LIMIT", CELERY_TASK_TIME_LIMIT,
    "CELERY_VISIBILITY_TIMEOUT", CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"],
)  # fmt: skip
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Keep reconnecting however long the broker is away (Celery gives up after 100 tries).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Long media jobs and quick housekeeping run on separate queues so a burst of
# uploads never delays retention cleanup. Every queue is declared here: a plain
# `celery -A media_analysis worker` consumes all of them, and `-Q media` (or
# `-Q default,maintenance`) still picks a dedicated pool.
QUEUE_DEFAULT, QUEUE_MEDIA, QUEUE_MAINTENANCE = "default", "media", "maintenance"
CELERY_TASK_DEFAULT_QUEUE = QUEUE_DEFAULT
CELERY_TASK_QUEUES = tuple(Queue(name) for name in (QUEUE_DEFAULT, QUEUE_MEDIA, QUEUE_MAINTENANCE))
CELERY_TASK_ROUTES = {
    "analysis.tasks.analyse_request": {"queue": QUEUE_MEDIA},
    "analysis.tasks.*": {"queue": QUEUE_MAINTENANCE},
    "storage_app.tasks.*": {"queue": QUEUE_MAINTENANCE},
    "audit.tasks.*": {"queue": QUEUE_MAINTENANCE},
}
CELERY_BEAT_SCHEDULE: dict = {
    # storage: daily retention cleanup, weekly disk/index sanity check (UTC times)
    "storage-cleanup": {
        "task": "storage_app.tasks.cleanup_storage",
        "schedule": crontab(
            hour=env_int("STORAGE_CLEANUP_HOUR", 3, minimum=0, maximum=23),
            minute=env_int("STORAGE_CLEANUP_MINUTE", 30, minimum=0, maximum=59),
        ),
    },
    "storage-check": {
        "task": "storage_app.tasks.check_storage",
        "schedule": crontab(
            day_of_week=env_int("STORAGE_CHECK_WEEKDAY", 0, minimum=0, maximum=6),
            hour=env_int("STORAGE_CHECK_HOUR", 4, minimum=0, maximum=23),
            minute=env_int("STORAGE_CHECK_MINUTE", 30, minimum=0, maximum=59),
        ),
    },
    # analysis: queue what an unreachable broker left in the outbox, take over what
    # a dead worker dropped (analysis/recovery.py)
    "analysis-recover": {
        "task": "analysis.tasks.recover_requests",
        "schedule": env_int("ANALYSIS_RECOVER_EVERY_SECONDS", 10, minimum=1, maximum=3600),
    },
}

# ------------------------------------------------------------------------ storage
STORAGE_ROOT = Path(
    env_str("MEDIA_ANALYSIS_STORAGE_ROOT", str(BASE_DIR / ".local" / "storage"))
).resolve()
STORAGE_DISK_WARNING_PERCENT = env_int("STORAGE_DISK_WARNING_PERCENT", 80, minimum=1, maximum=100)
STORAGE_DISK_CRITICAL_PERCENT = env_int("STORAGE_DISK_CRITICAL_PERCENT", 90, minimum=1, maximum=100)
require_at_most(
    "STORAGE_DISK_WARNING_PERCENT", STORAGE_DISK_WARNING_PERCENT,
    "STORAGE_DISK_CRITICAL_PERCENT", STORAGE_DISK_CRITICAL_PERCENT,
)  # fmt: skip
# Days each category is kept (0 = kept forever); keys are the folder names.
STORAGE_RETENTION_DAYS = {
    "uploads": env_int("STORAGE_RETENTION_UPLOADS_DAYS", 7, minimum=0, maximum=36500),
    "frames": env_int("STORAGE_RETENTION_FRAMES_DAYS", 30, minimum=0, maximum=36500),
    "contact-sheets": env_int(
        "STORAGE_RETENTION_CONTACT_SHEETS_DAYS", 30, minimum=0, maximum=36500
    ),
    "outputs": env_int("STORAGE_RETENTION_OUTPUTS_DAYS", 0, minimum=0, maximum=36500),
}
STORAGE_RETENTION_TEMP_HOURS = env_int("STORAGE_RETENTION_TEMP_HOURS", 24, minimum=1)
STORAGE_CLEANUP_BATCH_SIZE = env_int("STORAGE_CLEANUP_BATCH_SIZE", 500, minimum=1, maximum=100000)
STORAGE_CHECK_ORPHAN_GRACE_MINUTES = env_int("STORAGE_CHECK_ORPHAN_GRACE_MINUTES", 60, minimum=0)
STORAGE_CHECK_VERIFY_CHECKSUMS = env_bool("STORAGE_CHECK_VERIFY_CHECKSUMS", True)
STORAGE_METRICS_CATEGORY_INTERVAL = env_int("STORAGE_METRICS_CATEGORY_INTERVAL", 300, minimum=0)

# ------------------------------------------------------------------------- static
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / ".local" / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# ------------------------------------------------------------------------ metrics
PROMETHEUS_METRIC_NAMESPACE = "media_analysis"
# Bearer token a Prometheus scraper presents on /metrics (staff API tokens work too).
METRICS_TOKEN = env_str("METRICS_TOKEN")

# ------------------------------------------------------------------------- health
# /health/ready answers within HEALTH_READY_TIMEOUT seconds whatever is down or hangs
# (a check still running then is reported as timed out; 2 s leaves the request itself
# room under a 3 s probe timeout); the database check gets a connection within
# HEALTH_DATABASE_TIMEOUT. One answer serves every probe for HEALTH_READY_CACHE_SECONDS
# (in this process, not in Redis: Redis may be what is down).
HEALTH_READY_TIMEOUT = env_float("HEALTH_READY_TIMEOUT", 2.0, minimum=0.1, maximum=60)
HEALTH_DATABASE_TIMEOUT = env_float("HEALTH_DATABASE_TIMEOUT", 1.5, minimum=0.1, maximum=60)
if HEALTH_DATABASE_TIMEOUT > HEALTH_READY_TIMEOUT:
    raise ImproperlyConfigured("HEALTH_DATABASE_TIMEOUT must not exceed HEALTH_READY_TIMEOUT")
HEALTH_READY_CACHE_SECONDS = env_float("HEALTH_READY_CACHE_SECONDS", 2.0, minimum=0, maximum=60)

# ----------------------------------------------------------------------- security
# Production defaults are strict; each can be relaxed from the environment for a
# deployment that terminates TLS elsewhere.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SECURE_PROXY_SSL_HEADER", True) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Container health checks and in-cluster probes speak plain HTTP to /health.
SECURE_REDIRECT_EXEMPT = [r"^health(/|$)", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
X_FRAME_OPTIONS = "DENY"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ------------------------------------------------------------------------ logging
LOG_LEVEL = env_choice("LOG_LEVEL", "info", {"debug", "info", "warning", "error"}).upper()
LOG_FORMAT = env_choice("LOG_FORMAT", "json", {"json", "text"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "media_analysis.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {"log_context": {"()": "media_analysis.context.LogContextFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": sys.stderr,
            "formatter": LOG_FORMAT,
            "filters": ["log_context"],  # correlation_id / request_id / task_id
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "psycopg.pool": {"level": "WARNING"},
    },
}

# ------------------------------------------------------------------------ API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["analysis.api.authentication.HashedTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "analysis.api.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "URL_FORMAT_OVERRIDE": None,  # no ?format=: JSON, or the image where there is one
}
SPECTACULAR_SETTINGS = {
    "TITLE": "media-analysis API",
    "DESCRIPTION": "Analyse media with vision and language models; a durable history.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Only health answers without a token; staff signed in to the admin may browse the docs.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_AUTHENTICATION": [
        "analysis.api.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our static files: no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MediaTypeEnum": "analysis.models.MediaType",
        "AnalysisStatusEnum": "analysis.models.AnalysisStatus",
    },
}
# Token lookups are cached in Redis: trusted this long, then checked again...
API_TOKEN_CACHE_SECONDS = env_int("API_TOKEN_CACHE_SECONDS", 60, minimum=1, maximum=3600)
# ...but kept this long, to authenticate cached reads while PostgreSQL is down.
API_TOKEN_CACHE_MAX_STALE_SECONDS = env_int(
    "API_TOKEN_CACHE_MAX_STALE_SECONDS", 3600, minimum=API_TOKEN_CACHE_SECONDS, maximum=86400
)
# Per-token rates: "N/s", "N/min", "N/hour", "N/day" (or "N/5s").
API_THROTTLE_RATES = {
    "read": env_str("API_THROTTLE_READ_RATE", "600/min"),
    "write": env_str("API_THROTTLE_WRITE_RATE", "60/min"),
}
for _scope, _rate in API_THROTTLE_RATES.items():
    if not re.fullmatch(r"[1-9]\d*/\d*(s|sec|second|m|min|minute|h|hour|d|day)", _rate):
        raise ImproperlyConfigured(
            f"API_THROTTLE_{_scope.upper()}_RATE={_rate!r}: use e.g. 600/min, 20/s or 10/5s"
        )
API_IDEMPOTENCY_KEY_HOURS = env_int("API_IDEMPOTENCY_KEY_HOURS", 24, minimum=1, maximum=24 * 30)
# Cache TTLs (seconds): a status, a status once the request has ended, a history page.
CACHE_TTL_STATUS = env_int("CACHE_TTL_STATUS", 300, minimum=1, maximum=86400)
CACHE_TTL_RESULT = env_int("CACHE_TTL_RESULT", 3600, minimum=1, maximum=86400)
CACHE_TTL_HISTORY = env_int("CACHE_TTL_HISTORY", 60, minimum=1, maximum=86400)
# Circuit breakers (media_analysis/resilience.py): open after FAIL_MAX consecutive
# failures, half-open after RESET_TIMEOUT seconds, closed after SUCCESS_THRESHOLD.
DB_BREAKER_FAIL_MAX = env_int("DB_BREAKER_FAIL_MAX", 5, minimum=1, maximum=1000)
DB_BREAKER_RESET_TIMEOUT = env_float("DB_BREAKER_RESET_TIMEOUT", 30.0, minimum=0.1, maximum=3600)
DB_BREAKER_SUCCESS_THRESHOLD = env_int("DB_BREAKER_SUCCESS_THRESHOLD", 3, minimum=1, maximum=100)
DB_BREAKER_SHARED = env_bool("DB_BREAKER_SHARED", True)  # state in Redis, shared by processes
REDIS_BREAKER_FAIL_MAX = env_int("REDIS_BREAKER_FAIL_MAX", 5, minimum=1, maximum=1000)
REDIS_BREAKER_RESET_TIMEOUT = env_float(
    "REDIS_BREAKER_RESET_TIMEOUT", 30.0, minimum=0.1, maximum=3600
)
REDIS_BREAKER_SUCCESS_THRESHOLD = env_int(
    "REDIS_BREAKER_SUCCESS_THRESHOLD", 3, minimum=1, maximum=100
)
# Every breaker (database, Redis, providers; media_analysis/breaker.py): at most this
# many trial calls in flight while half-open, across all processes sharing the circuit.
BREAKER_HALF_OPEN_MAX_TRIALS = env_int("BREAKER_HALF_OPEN_MAX_TRIALS", 3, minimum=1, maximum=100)
# A trial's slot frees itself after this long even if its process died mid-call.
BREAKER_TRIAL_PERMIT_SECONDS = env_float(
    "BREAKER_TRIAL_PERMIT_SECONDS", 30.0, minimum=1, maximum=3600
)

# ------------------------------------------------------------------------- ingest
# Fetching media by URL (analysis/ingest/). The address rule refuses loopback,
# private, link-local, multicast and reserved targets unless this is set, for
# internal deployments that fetch from their own network.
MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS = env_bool("MEDIA_ANALYSIS_ALLOW_PRIVATE_NETWORKS", False)
MEDIA_ANALYSIS_MAX_DOWNLOAD_BYTES = env_int(
    "MEDIA_ANALYSIS_MAX_DOWNLOAD_BYTES", 2 * 1024**3, minimum=1
)
MEDIA_ANALYSIS_DOWNLOAD_CONNECT_TIMEOUT = env_int(
    "MEDIA_ANALYSIS_DOWNLOAD_CONNECT_TIMEOUT", 10, minimum=1, maximum=300
)
MEDIA_ANALYSIS_DOWNLOAD_READ_TIMEOUT = env_int(
    "MEDIA_ANALYSIS_DOWNLOAD_READ_TIMEOUT", 30, minimum=1, maximum=600
)
# Whole download, redirects included; keep it under CELERY_TASK_SOFT_TIME_LIMIT.
MEDIA_ANALYSIS_DOWNLOAD_DEADLINE = env_int(
    "MEDIA_ANALYSIS_DOWNLOAD_DEADLINE", 900, minimum=1, maximum=86400
)
require_below(
    "MEDIA_ANALYSIS_DOWNLOAD_DEADLINE", MEDIA_ANALYSIS_DOWNLOAD_DEADLINE,
    "CELERY_TASK_SOFT_TIME_LIMIT", CELERY_TASK_SOFT_TIME_LIMIT,
)  # fmt: skip

# ----------------------------------------------------------------------- analysis
MEDIA_ANALYSIS_MAX_PROMPT_CHARS = env_int(
    "MEDIA_ANALYSIS_MAX_PROMPT_CHARS", 10_000, minimum=1, maximum=1_000_000
)
# The same rules as a request's options (analysis/options.py).
CONTACT_SHEET_GRID = env_str("CONTACT_SHEET_GRID", "2x3")
if parse_grid(CONTACT_SHEET_GRID) is None:
    raise ImproperlyConfigured(
        f"CONTACT_SHEET_GRID={CONTACT_SHEET_GRID!r} must be COLSxROWS, 1..10 each"
    )
CONTACT_SHEET_RESOLUTION = env_str("CONTACT_SHEET_RESOLUTION", "1920x1080")
if parse_resolution(CONTACT_SHEET_RESOLUTION) is None:
    raise ImproperlyConfigured(
        f"CONTACT_SHEET_RESOLUTION={CONTACT_SHEET_RESOLUTION!r} must be WIDTHxHEIGHT "
        "between 320x240 and 7680x4320, e.g. 1920x1080"
    )
# Recovery (analysis/recovery.py): a running analysis renews its heartbeat every
# ANALYSIS_HEARTBEAT_SECONDS; one whose heartbeat is older than ANALYSIS_LEASE_SECONDS
# and whose advisory lock is free (its worker is gone) is taken over by beat, at
# most ANALYSIS_MAX_RECOVERIES times before it fails with "worker_lost".
ANALYSIS_HEARTBEAT_SECONDS = env_int("ANALYSIS_HEARTBEAT_SECONDS", 5, minimum=1, maximum=60)
ANALYSIS_LEASE_SECONDS = env_int("ANALYSIS_LEASE_SECONDS", 30, minimum=3, maximum=3600)
require_at_most(
    "3 x ANALYSIS_HEARTBEAT_SECONDS", 3 * ANALYSIS_HEARTBEAT_SECONDS,
    "ANALYSIS_LEASE_SECONDS", ANALYSIS_LEASE_SECONDS,
)  # fmt: skip
ANALYSIS_MAX_RECOVERIES = env_int("ANALYSIS_MAX_RECOVERIES", 3, minimum=0, maximum=100)
# A request still "pending" this long although its message left the outbox: the
# broker lost it (a Redis restarted without persistence). Queued again by beat.
MEDIA_ANALYSIS_PENDING_REQUEUE_SECONDS = env_int(
    "MEDIA_ANALYSIS_PENDING_REQUEUE_SECONDS", 600, minimum=30
)
if env_str("MEDIA_ANALYSIS_STUCK_AFTER_SECONDS"):
    raise ImproperlyConfigured(
        "MEDIA_ANALYSIS_STUCK_AFTER_SECONDS is no longer read: a dead worker's request is "
        "recovered by its heartbeat (ANALYSIS_LEASE_SECONDS). Remove the variable."
    )

# ---------------------------------------------------------------------- providers
# Model providers (analysis/providers/). Keys are read here only; never logged.
MEDIA_ANALYSIS_DEFAULT_PROVIDER = env_choice(
    "MEDIA_ANALYSIS_DEFAULT_PROVIDER",
    BUILTIN,
    set(PROVIDER_NAMES),
)
PROVIDER_TIMEOUT = env_float("PROVIDER_TIMEOUT", 120.0, minimum=1, maximum=1200)
PROVIDER_CONNECT_TIMEOUT = env_float("PROVIDER_CONNECT_TIMEOUT", 10.0, minimum=0.1, maximum=120)
PROVIDER_MAX_RETRIES = env_int("PROVIDER_MAX_RETRIES", 3, minimum=0, maximum=10)
PROVIDER_RETRY_BASE_DELAY = env_float("PROVIDER_RETRY_BASE_DELAY", 1.0, minimum=0, maximum=60)
# Cap on one wait, Retry-After included; a longer Retry-After ends the call (retryable).
PROVIDER_RETRY_MAX_DELAY = env_float("PROVIDER_RETRY_MAX_DELAY", 30.0, minimum=0, maximum=600)
PROVIDER_BREAKER_FAIL_MAX = env_int("PROVIDER_BREAKER_FAIL_MAX", 5, minimum=1, maximum=1000)
PROVIDER_BREAKER_RESET_TIMEOUT = env_float(
    "PROVIDER_BREAKER_RESET_TIMEOUT", 30.0, minimum=0.01, maximum=3600
)
PROVIDER_BREAKER_SUCCESS_THRESHOLD = env_int(
    "PROVIDER_BREAKER_SUCCESS_THRESHOLD", 3, minimum=1, maximum=100
)
# Share breaker state between processes through REDIS_URL (in-memory when unreachable).
PROVIDER_BREAKER_REDIS = env_bool("PROVIDER_BREAKER_REDIS", True)
PROVIDER_BREAKER_NAMESPACE = env_str("PROVIDER_BREAKER_NAMESPACE", "media-analysis:breaker")
PROVIDER_MAX_OUTPUT_TOKENS = env_int("PROVIDER_MAX_OUTPUT_TOKENS", 1500, minimum=16, maximum=65536)
PROVIDER_MAX_TEXT_CHARS = env_int("PROVIDER_MAX_TEXT_CHARS", 50_000, minimum=100, maximum=2_000_000)
# Models (fnmatch patterns, case-insensitive) that get audio as an input_audio part.
PROVIDER_AUDIO_MODELS = env_list(
    "PROVIDER_AUDIO_MODELS",
    ["*gpt-4o*audio*", "*gpt-audio*", "*gemini*", "*voxtral*", "*omni*"],
)
OPENROUTER_API_KEY = env_str("OPENROUTER_API_KEY")
OPENROUTER_BASE_URL = env_str("OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1")
OPENROUTER_MODEL = env_str("OPENROUTER_MODEL", "google/gemini-2.5-flash")
NOVITA_API_KEY = env_str("NOVITA_API_KEY")
NOVITA_BASE_URL = env_str("NOVITA_BASE_URL", "https://api.novita.ai/openai/v1")
NOVITA_MODEL = env_str("NOVITA_MODEL", "qwen/qwen2.5-vl-72b-instruct")
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
# Any OpenAI-compatible server (vLLM, Ollama, LM Studio); a local one may need no key.
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "https://api.openai.com/v1")
OPENAI_MODEL = env_str("OPENAI_MODEL", "gpt-4o-mini")
OPENAI_TOKEN_LIMIT_FIELD = env_choice(
    "OPENAI_TOKEN_LIMIT_FIELD", "max_tokens", {"max_tokens", "max_completion_tokens"}
)
GEMINI_API_KEY = env_str("GEMINI_API_KEY")
GEMINI_MODEL = env_str("GEMINI_MODEL", "gemini-2.5-flash")
GEMINI_BASE_URL = env_str("GEMINI_BASE_URL")
GEMINI_USE_VERTEX = env_bool("GEMINI_USE_VERTEX", False)
GOOGLE_CLOUD_PROJECT = env_str("GOOGLE_CLOUD_PROJECT")
GOOGLE_CLOUD_LOCATION = env_str("GOOGLE_CLOUD_LOCATION", "us-central1")

# -------------------------------------------------------------------------- audit
# django-auditlog writes into our model on the plan's audit_log table (audit/models.py
# says how its fields map onto the plan's columns). Its own migrations never run.
AUDITLOG_LOGENTRY_MODEL = "audit.AuditLogEntry"
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    "analysis.AnalysisRequest",
    "analysis.AnalysisResult",
    "storage_app.MediaFile",
    "storage_app.ContactSheet",
)
AUDITLOG_STORE_JSON_CHANGES = True  # old/new values as JSON types, not strings
AUDITLOG_CID_GETTER = "media_analysis.context.current_correlation_id"
# The field linking a tracked record to the one it belongs to (a result's request):
# a request's whole trail is then one indexed query.
AUDIT_PARENT_FIELD = "request"
# Peers (addresses or CIDR networks) whose X-Forwarded-For is believed when the
# client address is recorded; nobody's by default.
try:
    TRUSTED_PROXIES = [
        ipaddress.ip_network(value, strict=False) for value in env_list("TRUSTED_PROXIES", [])
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from None
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365, minimum=0, maximum=36500)
AUDIT_PRUNE_BATCH_SIZE = env_int("AUDIT_PRUNE_BATCH_SIZE", 10_000, minimum=1, maximum=1_000_000)
if AUDIT_RETENTION_DAYS:
    CELERY_BEAT_SCHEDULE["audit-prune"] = {
        "task": "audit.tasks.prune_audit_log",
        "schedule": crontab(
            hour=env_int("AUDIT_PRUNE_HOUR", 2, minimum=0, maximum=23),
            minute=env_int("AUDIT_PRUNE_MINUTE", 45, minimum=0, maximum=59),
        ),
    }

# ------------------------------------------------------------------ staff console
# List pages count matching rows only up to this many ("10000+" beyond): no
# COUNT(*) over a table of millions on each page load.
ADMIN_LIST_COUNT_LIMIT = env_int("ADMIN_LIST_COUNT_LIMIT", 10_000, minimum=100, maximum=10_000_000)
ADMIN_DASHBOARD_DAYS = env_int("ADMIN_DASHBOARD_DAYS", 30, minimum=1, maximum=366)
ADMIN_DASHBOARD_CACHE_SECONDS = env_int(
    "ADMIN_DASHBOARD_CACHE_SECONDS", 60, minimum=0, maximum=3600
)

# ------------------------------------------------------------------------- backup
# --- backup (storage_app/backup, docs/backup.md): `manage.py backup` writes a set to
# --output DIR or to BACKUP_DIR/<UTC timestamp>; with BACKUP_DIR set, beat runs one
# nightly at BACKUP_HOUR:BACKUP_MINUTE (UTC) and the newest BACKUP_KEEP sets are kept.
BACKUP_DIR = env_str("BACKUP_DIR")
BACKUP_KEEP = env_int("BACKUP_KEEP", 7, minimum=1, maximum=3650)
BACKUP_HOUR = env_int("BACKUP_HOUR", 1, minimum=0, maximum=23)
BACKUP_MINUTE = env_int("BACKUP_MINUTE", 30, minimum=0, maximum=59)
# PostgreSQL client tools (pg_dump, pg_restore, psql); unset: the embedded server's,
# else the system's. Never older than the server (checked, with the version needed).
BACKUP_PG_BIN_DIR = env_str("BACKUP_PG_BIN_DIR")
# A running cleanup holds the storage lock; a backup waits this long for it.
BACKUP_LOCK_WAIT_SECONDS = env_int("BACKUP_LOCK_WAIT_SECONDS", 1800, minimum=0, maximum=86400)
# The nightly task is stopped after this long (it is acknowledged on receipt, so the
# broker's visibility timeout does not bound it).
BACKUP_TIME_LIMIT = env_int("BACKUP_TIME_LIMIT", 6 * 3600, minimum=60, maximum=7 * 86400)
require_below(
    "BACKUP_LOCK_WAIT_SECONDS", BACKUP_LOCK_WAIT_SECONDS, "BACKUP_TIME_LIMIT", BACKUP_TIME_LIMIT
)
CELERY_TASK_ROUTES["storage_app.backup.*"] = {"queue": QUEUE_MAINTENANCE}
if BACKUP_DIR:
    if not Path(BACKUP_DIR).is_absolute():
        raise ImproperlyConfigured(f"BACKUP_DIR={BACKUP_DIR!r} must be an absolute path")
    CELERY_BEAT_SCHEDULE["backup-nightly"] = {
        "task": "storage_app.backup.nightly",
        "schedule": crontab(hour=BACKUP_HOUR, minute=BACKUP_MINUTE),
    }
