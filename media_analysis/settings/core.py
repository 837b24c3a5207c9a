"""Core settings: the project, the database, the cache, security, static files,
metrics, health and logging."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from media_analysis.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
    parse_database_url,
    require_at_most,
    running_celery,
    url_with_password,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# --------------------------------------------------------------------------- core
DEBUG = env_bool("DEBUG", False)

# A fixed, well-known key that only development may use: production refuses it.
INSECURE_DEFAULT_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env_secret("SECRET_KEY", INSECURE_DEFAULT_SECRET_KEY)
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
    # A cached status poll is answered here, before the middleware and the DRF
    # machinery an API answer from the cache does not need (analysis/api/status_poll.py).
    "analysis.api.status_poll.StatusPollMiddleware",
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
# A password handed over on its own (a RunPod secret, a Docker secret file) wins
# over the URL's, taken as is: no URL-encoding by hand.
_database_password = env_secret("DATABASE_PASSWORD")
if _database_password is not None:
    _db["PASSWORD"] = _database_password

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
    # Server-side TCP keepalives: a worker whose host vanished (no FIN) loses its
    # session, and with it the run lock analysis/recovery.py waits for, within
    # about a minute instead of the kernel's two hours. Ignored on Unix sockets.
    "options": (
        f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS} -c tcp_keepalives_idle=30 "
        "-c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"
    ),
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
        # Behind PgBouncer in transaction mode a named cursor (QuerySet.iterator())
        # may reach another server session mid-read: docs/deployment.md, "Many hosts".
        "DISABLE_SERVER_SIDE_CURSORS": env_bool("DB_DISABLE_SERVER_SIDE_CURSORS", False),
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
# As DATABASE_PASSWORD: REDIS_PASSWORD replaces the URL's password (encoded here).
REDIS_URL = url_with_password(_redis_url, env_secret("REDIS_PASSWORD"))
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

# ------------------------------------------------------------------------- static
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / ".local" / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# ------------------------------------------------------------------------ metrics
PROMETHEUS_METRIC_NAMESPACE = "media_analysis"
# With several gunicorn workers, metrics are aggregated through files in this
# folder (read by prometheus_client from the environment). Every process that
# counts something needs it, a `manage.py` command in the web container too: made
# here if missing. gunicorn.conf.py also empties it when the server starts.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
# Bearer token a Prometheus scraper presents on /metrics (staff API tokens work too).
METRICS_TOKEN = env_secret("METRICS_TOKEN")

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
    "filters": {
        "log_context": {"()": "media_analysis.context.LogContextFilter"},
        "quiet_routine_tasks": {"()": "media_analysis.logging.QuietRoutineTasks"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": sys.stderr,
            "formatter": LOG_FORMAT,
            # correlation_id / request_id / task_id; no line per recovery tick
            "filters": ["log_context", "quiet_routine_tasks"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "psycopg.pool": {"level": "WARNING"},
    },
}
