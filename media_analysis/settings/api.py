"""What callers meet: the API, fetching media by URL, model providers, the audit
log and the staff console."""

from __future__ import annotations

import ipaddress
import re

from celery.schedules import crontab
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from analysis.options import BUILTIN, PROVIDER_NAMES
from media_analysis.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
    env_usd,
    require_below,
)
from media_analysis.settings.work import (
    CELERY_BEAT_SCHEDULE,
    CELERY_TASK_ROUTES,
    CELERY_TASK_SOFT_TIME_LIMIT,
    QUEUE_MAINTENANCE,
)

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
    # The default hook (enums as components), OpenAPI links between operations,
    # objects closed where the service refuses unknown keys, 413/415 for bodies,
    # empty optional form fields (omitted, as DRF reads forms).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "analysis.api.schema_links.add_links",
        "analysis.api.schema_closed.close_objects",
        "analysis.api.schema_closed.document_body_refusals",
        "analysis.api.schema_closed.blank_form_fields",
    ],
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
# A history page counts its matches up to 1,000 rows within this much of PostgreSQL's
# time, then says "at least" (count_exact: false). The page itself costs a few ms at a
# million requests; this budget is most of the rest of an uncached page (issue 12:
# p95 < 20 ms). 0 never counts beyond the rows a page has read.
HISTORY_COUNT_BUDGET_MS = env_int("HISTORY_COUNT_BUDGET_MS", 8, minimum=0, maximum=60_000)
# The history's full-text search (q, analysis/search_document.py): PostgreSQL's text
# search configuration that splits, stems and drops stop words, for the documents
# and the queries alike. A name only (it goes to SQL as a bound ::regconfig); after
# changing it, `manage.py index_history_search --all` rebuilds the documents.
HISTORY_SEARCH_LANGUAGE = env_str("HISTORY_SEARCH_LANGUAGE", "english")
if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", HISTORY_SEARCH_LANGUAGE):
    raise ImproperlyConfigured(
        f"HISTORY_SEARCH_LANGUAGE={HISTORY_SEARCH_LANGUAGE!r}: a text search configuration's"
        " name, e.g. english, simple, german"
    )
# Circuit breakers (media_analysis/resilience.py): open after FAIL_MAX consecutive
# failures, half-open after RESET_TIMEOUT seconds, closed after SUCCESS_THRESHOLD.
# The reset timeout bounds recovery: after PostgreSQL or Redis comes back, the first
# trial waits up to that long. A trial against a dead server costs one failed
# connection attempt, so 10 s costs nothing and keeps recovery within ~10 s.
DB_BREAKER_FAIL_MAX = env_int("DB_BREAKER_FAIL_MAX", 5, minimum=1, maximum=1000)
DB_BREAKER_RESET_TIMEOUT = env_float("DB_BREAKER_RESET_TIMEOUT", 10.0, minimum=0.1, maximum=3600)
DB_BREAKER_SUCCESS_THRESHOLD = env_int("DB_BREAKER_SUCCESS_THRESHOLD", 3, minimum=1, maximum=100)
DB_BREAKER_SHARED = env_bool("DB_BREAKER_SHARED", True)  # state in Redis, shared by processes
REDIS_BREAKER_FAIL_MAX = env_int("REDIS_BREAKER_FAIL_MAX", 5, minimum=1, maximum=1000)
REDIS_BREAKER_RESET_TIMEOUT = env_float(
    "REDIS_BREAKER_RESET_TIMEOUT", 10.0, minimum=0.1, maximum=3600
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
OPENROUTER_API_KEY = env_secret("OPENROUTER_API_KEY")
OPENROUTER_BASE_URL = env_str("OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1")
OPENROUTER_MODEL = env_str("OPENROUTER_MODEL", "google/gemini-2.5-flash")
NOVITA_API_KEY = env_secret("NOVITA_API_KEY")
NOVITA_BASE_URL = env_str("NOVITA_BASE_URL", "https://api.novita.ai/openai/v1")
NOVITA_MODEL = env_str("NOVITA_MODEL", "qwen/qwen2.5-vl-72b-instruct")
OPENAI_API_KEY = env_secret("OPENAI_API_KEY")
# Any OpenAI-compatible server (vLLM, Ollama, LM Studio); a local one may need no key.
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "https://api.openai.com/v1")
OPENAI_MODEL = env_str("OPENAI_MODEL", "gpt-4o-mini")
OPENAI_TOKEN_LIMIT_FIELD = env_choice(
    "OPENAI_TOKEN_LIMIT_FIELD", "max_tokens", {"max_tokens", "max_completion_tokens"}
)
GEMINI_API_KEY = env_secret("GEMINI_API_KEY")
GEMINI_MODEL = env_str("GEMINI_MODEL", "gemini-2.5-flash")
GEMINI_BASE_URL = env_str("GEMINI_BASE_URL")
GEMINI_USE_VERTEX = env_bool("GEMINI_USE_VERTEX", False)
GOOGLE_CLOUD_PROJECT = env_str("GOOGLE_CLOUD_PROJECT")
GOOGLE_CLOUD_LOCATION = env_str("GOOGLE_CLOUD_LOCATION", "us-central1")

# ------------------------------------------------------------------------- budgets
# Cost control (analysis/costs/): each user's spend per UTC day and UTC month, in USD;
# a user's own budget in the admin overrides these. Empty: unlimited.
BUDGET_DAILY_USD = env_usd("BUDGET_DAILY_USD")
BUDGET_MONTHLY_USD = env_usd("BUDGET_MONTHLY_USD")

# ------------------------------------------------------------------ transcription
# Speech to text (analysis/transcription/) through an OpenAI-compatible
# POST {TRANSCRIPTION_BASE_URL}/audio/transcriptions; unset, nothing is transcribed.
# The key is read here only and never logged. Retries and the breaker use the
# PROVIDER_* settings above.
TRANSCRIPTION_BASE_URL = env_str("TRANSCRIPTION_BASE_URL")
TRANSCRIPTION_API_KEY = env_secret("TRANSCRIPTION_API_KEY")
TRANSCRIPTION_MODEL = env_str("TRANSCRIPTION_MODEL", "whisper-1")
# The endpoint's upload limit (OpenAI's is 25 MB); longer audio is sent in chunks.
TRANSCRIPTION_MAX_UPLOAD_MB = env_float(
    "TRANSCRIPTION_MAX_UPLOAD_MB", 25.0, minimum=0.25, maximum=1000
)
# Price per audio minute, added to the result's cost; unset = unknown (not 0).
TRANSCRIPTION_PRICE_PER_MINUTE_USD = (
    env_float("TRANSCRIPTION_PRICE_PER_MINUTE_USD", 0.0, minimum=0, maximum=100)
    if env_str("TRANSCRIPTION_PRICE_PER_MINUTE_USD")
    else None
)

# ----------------------------------------------------------------------- webhooks
# Signed webhooks (analysis/webhooks/): endpoints users register and callback_url.
# Secrets are stored encrypted with these Fernet keys (comma-separated: the first
# encrypts, each decrypts, for rotation); unset, webhooks are refused (503) and
# nothing is delivered. Never logged.
WEBHOOK_ENCRYPTION_KEY = [
    key.strip() for key in (env_secret("WEBHOOK_ENCRYPTION_KEY") or "").split(",") if key.strip()
]
for _key in WEBHOOK_ENCRYPTION_KEY:
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            "WEBHOOK_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes), "
            'comma-separated; make one with python -c "from cryptography.fernet import '
            'Fernet; print(Fernet.generate_key().decode())"'
        ) from None
# One attempt, connection to last byte of the answer.
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.5, maximum=60)
# Waits after each failed attempt (seconds, jittered +-20 %); the last repeats until
# WEBHOOK_RETRY_WINDOW_SECONDS after the event, when one final attempt is made.
try:
    WEBHOOK_RETRY_DELAYS = [
        float(value)
        for value in env_list(
            "WEBHOOK_RETRY_DELAYS", ["5", "30", "120", "600", "3600", "10800", "21600"]
        )
    ]
except ValueError:
    raise ImproperlyConfigured("WEBHOOK_RETRY_DELAYS must be comma-separated seconds") from None
if not WEBHOOK_RETRY_DELAYS or min(WEBHOOK_RETRY_DELAYS) <= 0:
    raise ImproperlyConfigured("WEBHOOK_RETRY_DELAYS must be positive seconds, at least one")
WEBHOOK_RETRY_WINDOW_SECONDS = env_int(
    "WEBHOOK_RETRY_WINDOW_SECONDS", 86_400, minimum=1, maximum=30 * 86_400
)
# An endpoint whose attempts have failed this long without a success is disabled.
WEBHOOK_DISABLE_AFTER_SECONDS = env_int(
    "WEBHOOK_DISABLE_AFTER_SECONDS", 3 * 86_400, minimum=60, maximum=365 * 86_400
)
WEBHOOK_MAX_ENDPOINTS_PER_USER = env_int(
    "WEBHOOK_MAX_ENDPOINTS_PER_USER", 20, minimum=1, maximum=1000
)
# Beat publishes due deliveries (long waits, a broker that was away) this often.
WEBHOOK_DISPATCH_EVERY_SECONDS = env_int(
    "WEBHOOK_DISPATCH_EVERY_SECONDS", 10, minimum=1, maximum=3600
)
# How long a published delivery message is trusted to arrive before beat publishes
# it again (a message lost with a killed worker, or a broker restarted without its
# data). Shorter: quicker recovery, more harmless duplicate messages under a backlog.
WEBHOOK_REQUEUE_GRACE_SECONDS = env_int(
    "WEBHOOK_REQUEUE_GRACE_SECONDS", 60, minimum=5, maximum=3600
)
CELERY_BEAT_SCHEDULE["webhooks-dispatch"] = {
    "task": "analysis.webhooks.tasks.dispatch_due_webhooks",
    "schedule": WEBHOOK_DISPATCH_EVERY_SECONDS,
}
# Days finished deliveries (delivered, given up, cancelled) and their attempts are
# kept; pending ones are never deleted. 0 keeps them forever. Pruned daily in
# batches of WEBHOOK_PRUNE_BATCH_SIZE deliveries, one short transaction each.
WEBHOOK_DELIVERY_RETENTION_DAYS = env_int(
    "WEBHOOK_DELIVERY_RETENTION_DAYS", 30, minimum=0, maximum=36500
)
WEBHOOK_PRUNE_BATCH_SIZE = env_int("WEBHOOK_PRUNE_BATCH_SIZE", 1000, minimum=1, maximum=100_000)
CELERY_TASK_ROUTES["analysis.webhooks.tasks.prune_webhook_deliveries"] = {
    "queue": QUEUE_MAINTENANCE
}
if WEBHOOK_DELIVERY_RETENTION_DAYS:
    CELERY_BEAT_SCHEDULE["webhooks-prune"] = {
        "task": "analysis.webhooks.tasks.prune_webhook_deliveries",
        "schedule": crontab(
            hour=env_int("WEBHOOK_PRUNE_HOUR", 3, minimum=0, maximum=23),
            minute=env_int("WEBHOOK_PRUNE_MINUTE", 15, minimum=0, maximum=59),
        ),
    }

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
