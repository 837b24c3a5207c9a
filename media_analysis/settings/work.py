"""The work the service does in the background: Celery (queues, routes, beat),
storage and retention, analysis recovery, backups."""

from __future__ import annotations

from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from analysis.options import parse_grid, parse_resolution
from media_analysis.env import (
    env_bool,
    env_float,
    env_int,
    env_str,
    redis_url_for_celery,
    require_at_most,
    require_below,
)
from media_analysis.object_store_settings import read_object_store, read_storage_backend
from media_analysis.settings.core import BASE_DIR, REDIS_URL, TIME_ZONE

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
# uploads never delays retention cleanup, and analyses are split in two
# (analysis/queues.py): heavy work (video, long audio, media not known yet) on
# media.heavy, light work (images, documents, short audio) on media.light, so a
# flood of videos never keeps a small job waiting. Every queue is declared here:
# a plain `celery -A media_analysis worker` consumes all of them, and -Q picks a
# dedicated pool (docs/deployment.md, "Queues and worker pools"). "media" is where
# analyses went before the split; nothing publishes there any more, it stays
# declared so messages a broker still held at the upgrade are run (the heavy pool
# and plain workers consume it).
QUEUE_DEFAULT, QUEUE_MEDIA, QUEUE_MAINTENANCE = "default", "media", "maintenance"
QUEUE_MEDIA_HEAVY, QUEUE_MEDIA_LIGHT = "media.heavy", "media.light"
CELERY_TASK_DEFAULT_QUEUE = QUEUE_DEFAULT
CELERY_TASK_QUEUES = tuple(
    Queue(name)
    for name in (
        QUEUE_DEFAULT,
        QUEUE_MEDIA_LIGHT,
        QUEUE_MEDIA_HEAVY,
        QUEUE_MEDIA,
        QUEUE_MAINTENANCE,
    )
)
CELERY_TASK_ROUTES = {
    # The outbox names the queue of each analysis it publishes; anything that
    # publishes one without choosing sends it to the heavy pool, which runs any media.
    "analysis.tasks.analyse_request": {"queue": QUEUE_MEDIA_HEAVY},
    "analysis.tasks.*": {"queue": QUEUE_MAINTENANCE},
    "storage_app.tasks.*": {"queue": QUEUE_MAINTENANCE},
    "audit.tasks.*": {"queue": QUEUE_MAINTENANCE},
}
# Audio's length is unknown until it is probed: an audio file of at most this many
# bytes counts as short (light queue), a bigger one or one of unknown size (a URL
# not downloaded yet) as long (heavy). 5 MiB: about 5 minutes of 128 kbit/s MP3.
ANALYSIS_LIGHT_AUDIO_MAX_BYTES = env_int(
    "ANALYSIS_LIGHT_AUDIO_MAX_BYTES", 5 * 1024 * 1024, minimum=0, maximum=2**40
)
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
# Where uploads, frames, contact sheets and outputs are kept: "filesystem" (under
# STORAGE_ROOT) or "s3" (an S3-compatible bucket, storage_app/backends); temp/ is
# always on local disk. OBJECT_STORE is None for the filesystem.
STORAGE_BACKEND = read_storage_backend()
OBJECT_STORE = read_object_store(STORAGE_BACKEND)

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
# Text in pictures (analysis/processing/ocr.py), read offline by rapidocr: the
# master switch, how many pictures (image, text-less PDF pages, video frames) one
# analysis reads at most, and the time each may take (the run's budget is both
# multiplied; pictures left when it is spent are skipped).
OCR_ENABLED = env_bool("OCR_ENABLED", True)
OCR_MAX_IMAGES = env_int("OCR_MAX_IMAGES", 8, minimum=0, maximum=1000)
OCR_SECONDS_PER_IMAGE = env_float("OCR_SECONDS_PER_IMAGE", 10.0, minimum=0.1, maximum=3600)
# Loudness of a video's sound track (analysis/sound_track.py), measured like an
# audio file's by a step of its own after processing: at most this much sound from
# the start and this much work; past either the levels are those of the part
# measured (the facts' ``loudness.measured_s`` says how much).
VIDEO_LOUDNESS_MAX_AUDIO_SECONDS = env_float(
    "VIDEO_LOUDNESS_MAX_AUDIO_SECONDS", 4 * 3600.0, minimum=1.0, maximum=48 * 3600.0
)
VIDEO_LOUDNESS_SECONDS = env_float("VIDEO_LOUDNESS_SECONDS", 60.0, minimum=0.1, maximum=3600)
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
